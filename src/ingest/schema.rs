//! JSON Schema validation of CycloneDX and SPDX JSON documents against the official schemas,
//! embedded in the binary (`schemas/`) and resolved offline: no schema is ever fetched over the
//! network. Each validator is compiled once, on first use, and shared.

use crate::model::ValidationIssue;
use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;
use std::sync::OnceLock;

/// A schema soupwatch validates documents against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    Cdx12,
    Cdx13,
    Cdx14,
    Cdx15,
    Cdx16,
    Cdx17,
    Spdx22,
    Spdx23,
}

const ALL: [Schema; 8] = [
    Schema::Cdx12,
    Schema::Cdx13,
    Schema::Cdx14,
    Schema::Cdx15,
    Schema::Cdx16,
    Schema::Cdx17,
    Schema::Spdx22,
    Schema::Spdx23,
];

/// Most issues reported for one document: past this the list stops helping anyone.
const MAX_ISSUES: usize = 200;
/// Longest message kept: `enum` errors on licence ids would otherwise list 700 SPDX ids.
const MAX_MESSAGE: usize = 300;
/// Longest quotation of the offending value inside a shortened message.
const MAX_PREVIEW: usize = 60;

impl Schema {
    fn source(self) -> &'static str {
        match self {
            Schema::Cdx12 => include_str!("schemas/bom-1.2.schema.json"),
            Schema::Cdx13 => include_str!("schemas/bom-1.3.schema.json"),
            Schema::Cdx14 => include_str!("schemas/bom-1.4.schema.json"),
            Schema::Cdx15 => include_str!("schemas/bom-1.5.schema.json"),
            Schema::Cdx16 => include_str!("schemas/bom-1.6.schema.json"),
            Schema::Cdx17 => include_str!("schemas/bom-1.7.schema.json"),
            Schema::Spdx22 => include_str!("schemas/spdx-2.2.schema.json"),
            Schema::Spdx23 => include_str!("schemas/spdx-2.3.schema.json"),
        }
    }

    fn index(self) -> usize {
        ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Serves the schemas the CycloneDX schemas `$ref` by relative name from the embedded copies.
struct Embedded;

impl Retrieve for Embedded {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = match uri.path().as_str().rsplit('/').next() {
            Some("spdx.schema.json") => include_str!("schemas/spdx.schema.json"),
            Some("jsf-0.82.schema.json") => include_str!("schemas/jsf-0.82.schema.json"),
            Some("cryptography-defs.schema.json") => {
                include_str!("schemas/cryptography-defs.schema.json")
            }
            _ => return Err(format!("schema {uri} is not embedded").into()),
        };
        Ok(serde_json::from_str(text)?)
    }
}

type Compiled = Result<Validator, String>;

fn validator(schema: Schema) -> &'static Compiled {
    static CELLS: [OnceLock<Compiled>; 8] = [const { OnceLock::new() }; 8];
    CELLS[schema.index()].get_or_init(|| {
        let doc: Value = serde_json::from_str(schema.source())
            .map_err(|e| format!("embedded schema {schema:?} is not JSON: {e}"))?;
        jsonschema::options()
            .with_retriever(Embedded)
            // jsonschema asserts `format` for these drafts (draft-07, 2019-09), so e.g. an
            // `iri-reference` that is an scp-style git address is reported; that is the schema.
            .build(&doc)
            .map_err(|e| format!("embedded schema {schema:?} does not compile: {e}"))
    })
}

/// Every violation of `schema` in `doc`, with JSON pointer paths (`/components/3/purl`).
pub(crate) fn validate(schema: Schema, doc: &Value) -> Vec<ValidationIssue> {
    let validator = match validator(schema) {
        Ok(v) => v,
        // Only reachable if an embedded schema is broken; report it rather than pass the document.
        Err(e) => {
            return vec![ValidationIssue {
                path: String::new(),
                message: e.clone(),
            }]
        }
    };
    if validator.is_valid(doc) {
        return Vec::new();
    }
    validator
        .iter_errors(doc)
        .take(MAX_ISSUES)
        .map(|e| {
            let mut message = e.to_string();
            if message.len() > MAX_MESSAGE {
                // Messages quote the offending value first; keep a preview of it so the reason
                // (which comes after) survives the cut.
                let preview = truncate(e.instance().to_string(), MAX_PREVIEW);
                message = truncate(e.masked_with(preview).to_string(), MAX_MESSAGE);
            }
            ValidationIssue {
                path: e.instance_path().to_string(),
                message,
            }
        })
        .collect()
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles_offline() {
        for schema in ALL {
            assert!(
                validator(schema).is_ok(),
                "{schema:?}: {:?}",
                validator(schema).as_ref().err()
            );
        }
    }

    #[test]
    fn reports_json_pointer_paths() {
        let doc = serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "components": [{"type": "library", "name": "a"}, {"type": "nonsense", "name": "b"}]
        });
        let issues = validate(Schema::Cdx15, &doc);
        assert!(
            issues.iter().any(|i| i.path == "/components/1/type"),
            "{issues:?}"
        );
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("ééé".to_string(), 3), "é…");
    }
}
