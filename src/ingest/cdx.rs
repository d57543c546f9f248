//! CycloneDX: the normaliser from a JSON `Value` to soupwatch's component model, and the XML
//! path, which reads the document with `cyclonedx-bom`, re-serialises its model as CycloneDX JSON
//! and hands that to the same normaliser, so both syntaxes yield identical components.

use super::{text, Extracted, IngestError, Item};
use crate::model::{Component, Hash, ValidationIssue};
use cyclonedx_bom::models::bom::{Bom, SpecVersion};
use cyclonedx_bom::validation::{Validate, ValidationErrorsKind, ValidationResult};
use serde_json::Value;
use std::collections::HashMap;

/// A CycloneDX specification version soupwatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CdxVersion {
    V1_2,
    V1_3,
    V1_4,
    V1_5,
    V1_6,
    V1_7,
}

impl CdxVersion {
    /// `None` for anything else, including 1.0 and 1.1 (XML only, no dependency graph).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "1.2" => Self::V1_2,
            "1.3" => Self::V1_3,
            "1.4" => Self::V1_4,
            "1.5" => Self::V1_5,
            "1.6" => Self::V1_6,
            "1.7" => Self::V1_7,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::V1_2 => "1.2",
            Self::V1_3 => "1.3",
            Self::V1_4 => "1.4",
            Self::V1_5 => "1.5",
            Self::V1_6 => "1.6",
            Self::V1_7 => "1.7",
        }
    }

    pub(crate) fn schema(self) -> super::schema::Schema {
        use super::schema::Schema;
        match self {
            Self::V1_2 => Schema::Cdx12,
            Self::V1_3 => Schema::Cdx13,
            Self::V1_4 => Schema::Cdx14,
            Self::V1_5 => Schema::Cdx15,
            Self::V1_6 => Schema::Cdx16,
            Self::V1_7 => Schema::Cdx17,
        }
    }

    /// The version `cyclonedx-bom` reads this one as (it knows 1.3 to 1.5 only).
    fn reader_version(self) -> SpecVersion {
        match self {
            Self::V1_2 | Self::V1_3 => SpecVersion::V1_3,
            Self::V1_4 => SpecVersion::V1_4,
            Self::V1_5 | Self::V1_6 | Self::V1_7 => SpecVersion::V1_5,
        }
    }
}

/// The XML namespace prefix of every CycloneDX version; the version follows it.
pub(crate) const XML_NAMESPACE_PREFIX: &str = "http://cyclonedx.org/schema/bom/";

/// Reads CycloneDX XML (already through `xml_guard`) into CycloneDX JSON, plus the problems
/// `cyclonedx-bom`'s validator finds.
///
/// `cyclonedx-bom` 0.8 reads 1.3-1.5 only and insists on the exact namespace, so 1.2 documents
/// are relabelled as 1.3 (1.3 only added elements, so nothing is lost) and 1.6/1.7 as 1.5. The
/// second relabel is lossy: elements that first appear in 1.6/1.7 (component `manufacturer`,
/// `authors`, `omniborId`, `swhid`, `tags`, license `acknowledgement`, `standards`,
/// `declarations`, newer crypto properties) are skipped by the reader, so for such XML the
/// supplier falls back to `supplier`/`publisher` and those fields never reach the model. A few
/// 1.6/1.7 constructs make the 1.5 reader fail outright; they are reported as invalid.
pub(crate) fn xml_to_json(
    bytes: &[u8],
    version: CdxVersion,
) -> Result<(Value, Vec<ValidationIssue>), IngestError> {
    let target = version.reader_version();
    let relabelled;
    let input: &[u8] = if target.to_string() == version.as_str() {
        bytes
    } else {
        let from = format!("{XML_NAMESPACE_PREFIX}{}", version.as_str());
        let to = format!("{XML_NAMESPACE_PREFIX}{target}");
        relabelled = replace_all(bytes, from.as_bytes(), to.as_bytes());
        &relabelled
    };
    let bom =
        Bom::parse_from_xml_with_version(input, target).map_err(|e| IngestError::Invalid {
            issues: vec![ValidationIssue {
                path: "/bom".to_string(),
                message: format!("CycloneDX {} XML could not be read: {e}", version.as_str()),
            }],
        })?;
    let mut issues = Vec::new();
    flatten("", bom.validate_version(target), &mut issues);
    let mut json = Vec::new();
    bom.output_as_json(&mut json, target)
        .map_err(|e| IngestError::Invalid {
            issues: vec![ValidationIssue {
                path: "/bom".to_string(),
                message: format!("CycloneDX XML could not be converted: {e}"),
            }],
        })?;
    let value = serde_json::from_slice(&json).map_err(|e| IngestError::Invalid {
        issues: vec![ValidationIssue {
            path: "/bom".to_string(),
            message: format!("CycloneDX XML could not be converted: {e}"),
        }],
    })?;
    Ok((value, issues))
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(pos) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(rest.get(..pos).unwrap_or_default());
        out.extend_from_slice(to);
        rest = rest.get(pos + from.len()..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out
}

/// Turns `cyclonedx-bom`'s nested validation result into path/message pairs.
fn flatten(prefix: &str, result: ValidationResult, out: &mut Vec<ValidationIssue>) {
    for (key, kind) in result.errors() {
        let path = if key.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}/{key}")
        };
        match kind {
            ValidationErrorsKind::Struct(inner) => flatten(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(&format!("{path}/{index}"), inner, out);
                }
            }
            ValidationErrorsKind::Field(errors) | ValidationErrorsKind::Custom(errors) => {
                out.extend(errors.into_iter().map(|e| ValidationIssue {
                    path: path.clone(),
                    message: e.message,
                }));
            }
            ValidationErrorsKind::Enum(e) => out.push(ValidationIssue {
                path,
                message: e.message,
            }),
        }
    }
}

/// Normalises a CycloneDX JSON document (any version 1.2-1.7). Tolerant by construction: a field
/// of the wrong type is read as absent, so a non-strict ingest keeps everything else.
pub(crate) fn normalise(doc: &Value, spec_version: &str) -> Extracted {
    let deps = dependency_map(doc);
    let metadata = doc.get("metadata");
    let subject_json = metadata.and_then(|m| m.get("component"));
    let subject_ref = subject_json.and_then(|c| text(c, "bom-ref"));

    let mut subject = Vec::new();
    let mut stack: Vec<&Value> = Vec::new();
    // Pre-order walk with an explicit stack: document order, no recursion on untrusted depth.
    push_children(doc, &mut stack);
    if let Some(s) = subject_json {
        subject.push(component(s, &deps));
        // Parts of the subject are still third-party candidates, so they join the components.
        push_children(s, &mut stack);
    }
    let mut components = Vec::new();
    while let Some(c) = stack.pop() {
        push_children(c, &mut stack);
        // Some tools list the subject again among the components; it is not third-party.
        if subject_ref.is_some() && text(c, "bom-ref") == subject_ref {
            continue;
        }
        components.push(component(c, &deps));
    }

    Extracted {
        spec_version: spec_version.to_string(),
        subject,
        components,
        authors: metadata.map(authors).unwrap_or_default(),
        timestamp: metadata
            .and_then(|m| text(m, "timestamp"))
            .map(str::to_string),
    }
}

fn push_children<'a>(parent: &'a Value, stack: &mut Vec<&'a Value>) {
    if let Some(children) = parent.get("components").and_then(Value::as_array) {
        stack.extend(children.iter().rev().filter(|c| c.is_object()));
    }
}

/// `ref` -> the refs it depends on, merged when a ref appears more than once.
fn dependency_map(doc: &Value) -> HashMap<&str, Vec<String>> {
    let mut map: HashMap<&str, Vec<String>> = HashMap::new();
    for dep in doc
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(from) = text(dep, "ref") else {
            continue;
        };
        let targets = map.entry(from).or_default();
        for to in dep
            .get("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // 1.2-1.7 write refs as strings; accept the `{ "ref": ... }` shape some tools emit.
            let to = to.as_str().or_else(|| text(to, "ref"));
            if let Some(to) = to {
                if !targets.iter().any(|t| t == to) {
                    targets.push(to.to_string());
                }
            }
        }
    }
    map
}

fn component(c: &Value, deps: &HashMap<&str, Vec<String>>) -> Item {
    let bom_ref = text(c, "bom-ref");
    let component = Component {
        bom_ref: bom_ref.map(str::to_string),
        name: text(c, "name").unwrap_or_default().to_string(),
        version: owned(c, "version"),
        group: owned(c, "group"),
        purl: owned(c, "purl"),
        cpe: owned(c, "cpe"),
        supplier: supplier(c),
        hashes: hashes(c),
        licenses: licenses(c),
        scope: owned(c, "scope"),
        kind: owned(c, "type"),
        depends_on: bom_ref
            .and_then(|r| deps.get(r))
            .cloned()
            .unwrap_or_default(),
    };
    let swid = c.get("swid").and_then(|s| text(s, "tagId")).is_some();
    Item { component, swid }
}

fn owned(v: &Value, key: &str) -> Option<String> {
    text(v, key).map(str::to_string)
}

/// The organisation that supplies the component: `supplier`, else the 1.6 `manufacturer`, else
/// `publisher` (the CycloneDX field NTIA's format survey maps "supplier name" to). `author` and
/// `authors` are not used: a person who wrote the code is not who supplies it.
fn supplier(c: &Value) -> Option<String> {
    ["supplier", "manufacturer"]
        .iter()
        .find_map(|k| c.get(*k).and_then(|o| text(o, "name")))
        .or_else(|| text(c, "publisher"))
        .map(str::to_string)
}

fn hashes(c: &Value) -> Vec<Hash> {
    c.get("hashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some(Hash {
                alg: text(h, "alg")?.to_string(),
                value: text(h, "content")?.to_ascii_lowercase(),
            })
        })
        .collect()
}

/// SPDX ids, then names, then expressions, in document order.
fn licenses(c: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for choice in c
        .get("licenses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let found = match choice.get("license") {
            Some(l) => text(l, "id").or_else(|| text(l, "name")),
            None => text(choice, "expression"),
        };
        if let Some(l) = found {
            if !out.iter().any(|o| o == l) {
                out.push(l.to_string());
            }
        }
    }
    out
}

/// Who made the SBOM: `metadata.authors`, the manufacturer (`manufacture` before 1.6,
/// `manufacturer` since), and the tools (legacy array or the 1.5+ `{components, services}`).
fn authors(metadata: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for a in metadata
        .get("authors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = text(a, "name").or_else(|| text(a, "email")) {
            out.push(n.to_string());
        }
    }
    for key in ["manufacture", "manufacturer"] {
        if let Some(n) = metadata.get(key).and_then(|m| text(m, "name")) {
            out.push(format!("Organization: {n}"));
        }
    }
    let tools: Vec<&Value> = match metadata.get("tools") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(obj @ Value::Object(_)) => ["components", "services"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(Value::as_array))
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    for t in tools {
        if let Some(name) = text(t, "name") {
            let vendor = text(t, "vendor")
                .or_else(|| t.get("group").and_then(Value::as_str))
                .or_else(|| t.get("publisher").and_then(Value::as_str));
            let mut s = String::from("Tool: ");
            if let Some(v) = vendor {
                s.push_str(v);
                s.push(' ');
            }
            s.push_str(name);
            if let Some(v) = text(t, "version") {
                s.push('-');
                s.push_str(v);
            }
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_nested_components_and_drops_duplicated_subject() {
        let doc = json!({
            "bomFormat": "CycloneDX", "specVersion": "1.6",
            "metadata": {
                "timestamp": "2024-01-01T00:00:00Z",
                "tools": {"components": [{"type": "application", "group": "acme", "name": "gen", "version": "2"}]},
                "component": {"bom-ref": "app", "type": "application", "name": "app",
                              "components": [{"bom-ref": "part", "type": "library", "name": "part"}]}
            },
            "components": [
                {"bom-ref": "app", "type": "application", "name": "app"},
                {"bom-ref": "a", "type": "library", "name": "a", "version": "1",
                 "supplier": {"name": "ACME"}, "purl": "pkg:npm/a@1",
                 "hashes": [{"alg": "SHA-256", "content": "ABCD"}],
                 "licenses": [{"license": {"id": "MIT"}}, {"expression": "MIT OR Apache-2.0"}],
                 "components": [{"bom-ref": "a/b", "type": "library", "name": "b",
                                 "components": [{"type": "library", "name": "c"}]}]},
                {"type": "library", "name": "d", "version": 7}
            ],
            "dependencies": [{"ref": "a", "dependsOn": ["a/b", "a/b"]}, {"ref": "a", "dependsOn": ["d"]}]
        });
        let ex = normalise(&doc, "1.6");
        let names: Vec<_> = ex
            .components
            .iter()
            .map(|i| i.component.name.as_str())
            .collect();
        // The subject's parts come first, as `metadata` precedes `components` in the document.
        assert_eq!(names, ["part", "a", "b", "c", "d"]);
        assert_eq!(ex.subject.len(), 1);
        let a = &ex.components[1].component;
        assert_eq!(a.supplier.as_deref(), Some("ACME"));
        assert_eq!(a.hashes[0].value, "abcd");
        assert_eq!(a.licenses, ["MIT", "MIT OR Apache-2.0"]);
        assert_eq!(a.depends_on, ["a/b", "d"]);
        // A mistyped version is dropped, not fatal.
        assert_eq!(ex.components[4].component.version, None);
        assert_eq!(ex.authors, ["Tool: acme gen-2"]);
    }

    #[test]
    fn replace_all_replaces_every_occurrence() {
        assert_eq!(replace_all(b"a1a1b", b"a1", b"X"), b"XXb");
        assert_eq!(replace_all(b"", b"a1", b"X"), b"");
    }
}
