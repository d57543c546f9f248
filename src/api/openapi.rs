//! The route registry of `/api/v1`: every API route is added through [`Api::add`], which both
//! registers the handler with axum and records its description, and `/api/v1/openapi.json` is
//! generated from those records. A route cannot be served without being described, nor
//! described without being served.

use super::AppState;
use axum::routing::MethodRouter;
use axum::Router;
use serde_json::{json, Map, Value};

/// What the OpenAPI document says about one operation.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Roles allowed: `any`, `public`, or a list such as `uploader, admin`.
    pub roles: &'static str,
    /// Request body media type, if the operation takes one.
    pub body: Option<&'static str>,
}

pub struct Api {
    router: Router<AppState>,
    docs: Vec<RouteDoc>,
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}

impl Api {
    pub fn new() -> Self {
        Api {
            router: Router::new(),
            docs: Vec::new(),
        }
    }

    /// Registers one operation. `handler` must be the method router for exactly `doc.method`.
    pub fn add(mut self, doc: RouteDoc, handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(doc.path, handler);
        self.docs.push(doc);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteDoc>) {
        (self.router, self.docs)
    }
}

/// Builds the OpenAPI 3.1 document from the registry.
pub fn document(docs: &[RouteDoc]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for d in docs {
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": d.summary,
            "operationId": format!("{}_{}", d.method, d.path.trim_matches('/').replace(['/', '{', '}'], "_")),
            "parameters": params,
            "x-soupwatch-roles": d.roles,
            "responses": {
                "200": {"description": "success", "content": {"application/json": {}}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
            },
        });
        if d.roles != "public" {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(media) = d.body {
            op["requestBody"] = json!({"required": true, "content": {media: {}}});
        }
        let entry = paths
            .entry(format!("/api/v1{}", d.path))
            .or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(d.method.to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "soupwatch API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Post-market vigilance for the third-party software in released medical devices.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {
                "description": "error",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "details": {}},
                }}},
            }},
        },
    })
}
