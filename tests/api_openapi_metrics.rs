//! `/api/v1/openapi.json` lists every route the router serves (and only those), and `/metrics`
//! speaks the Prometheus text format with the promised series.

mod common;
use common::*;

#[tokio::test]
async fn openapi_lists_exactly_the_served_routes_and_metrics_are_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin = make_token(&data, "admin", "admin");
    let d = Daemon::start(&data, &[]);
    let c = client();
    let doc: serde_json::Value = c
        .get(d.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut ops = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            ops += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            // Every described operation is served: no API fallback 404, no 405.
            let url = d.url(&path.replace(['{', '}'], ""));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = c
                .request(m, &url)
                .bearer_auth(&admin)
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} described but not served");
            assert!(
                !(status == 404 && body.contains("no such API route")),
                "{method} {path} described but not served"
            );
        }
    }
    assert!(ops >= 25, "{ops}");
    // Every route the router serves is described: probe each served path template's methods;
    // a method the document does not list must be refused by the router (405).
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete"] {
            if item.get(method).is_some() {
                continue;
            }
            let url = d.url(&path.replace(['{', '}'], ""));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = c
                .request(m, &url)
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, 405, "{method} {path} is served but not described");
        }
    }
    for required in [
        "/api/v1/products/{product}/releases/{release}/sbom",
        "/api/v1/products/{product}/releases/{release}/findings",
        "/api/v1/vulnerabilities/{id}",
        "/api/v1/tickets/{id}/signoff",
        "/api/v1/feeds",
        "/api/v1/tokens",
        "/api/v1/outbox/{id}/retry",
    ] {
        assert!(paths.contains_key(required), "{required} missing");
    }

    let m = c.get(d.url("/metrics")).send().await.unwrap();
    assert_eq!(m.status(), 200);
    assert!(m.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = m.text().await.unwrap();
    for series in [
        "soupwatch_http_requests_total{",
        "soupwatch_http_request_duration_seconds_bucket{",
        "soupwatch_feed_stale{feed=\"osv\"}",
        "soupwatch_notifications_overdue",
        "soupwatch_store_size_bytes",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // Every sample line is `name{labels} value` or `name value` with a numeric value.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
    // The route label is the template, never a raw id.
    assert!(
        text.contains("route=\"/api/v1/products/{product}/releases/{release}/sbom\""),
        "{text}"
    );
}
