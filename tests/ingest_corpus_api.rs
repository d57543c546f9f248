//! Issue 2, "How it must be shown", first bullet: every file of the shared SBOM corpus goes
//! through the HTTP API of two real daemons (strict, the default, and `strict = false`), each on
//! its own sled folder. What each file is, which status it must get and how many components it
//! holds are all decided here from the raw bytes (serde_json, xml-rs, a small tag-value reader),
//! never by soupwatch's own code, so the two can disagree and the test can fail for real.
//!
//! Every file is uploaded as its own product (`c000`, `c001`, ... release `1`), so "a refused
//! upload stores nothing at all" is checkable: its release is 404 and its product is never listed.

mod common;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// In-flight uploads per daemon. Each daemon ingests two at a time by default; one more queued
/// keeps both busy without starving the other daemon on a 2-core machine.
const IN_FLIGHT: usize = 3;

/// A real file that is invalid against its own schema.
struct KnownInvalid {
    /// Under `corpus/sbom/`.
    path: &'static str,
    witness: Witness,
    /// Must appear in the path or message of at least one issue of the 422 body.
    hint: &'static str,
    reason: &'static str,
}

/// Real files that are genuinely invalid against their own schema, so the strict daemon refuses
/// them (422) and the lax one accepts them with warnings. Each was checked by hand, and
/// its `witness` re-finds the defect in the raw bytes here.
const KNOWN_INVALID: &[KnownInvalid] = &[
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-airbyte_db-sha256:6bae026aec80ce8dbc62e9c42665b8a60694d59fc10a893e010cbad870d0986e.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText (mandatory in 2.2)",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-amazon_aws-otel-collector-sha256:539b3372e983c99135e71cffb3592782fa3b1cffde67e827f441484346123f8d.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-atlassian_pipelines-kubectl-sha256:958f5a1c1e5d6599074abf64830c4a3c4b60930d451b8ce25184126c3d4cf494.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-bitnami_jupyter-base-notebook-sha256:b94f8cd9cc2bad69466d25968076a0030e858bdd20f32444545f41b5eb4c79b4.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-bitnami_kafka-sha256:8ed09dd08e903fcd1e15ed95d5e29d463968fe4cfb7b9719cef511dac71120ed.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-ibmcom_microclimate-theia-sha256:e17bdccc50301bcaef57f32333d00f7e44f4549695d4d5f9246c508843bc590e.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "trivy SPDX 2.2: packages and files without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/cyclonedx/obsidian-sailboat-sbom-cdx.json",
        witness: Witness::LicenceUrlOnly,
        hint: "/licenses/0/license",
        reason: "CycloneDX 1.2: licences given by url only (the schema needs id or name)",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/cyclonedx/redis-commander-sbom-cdx.json",
        witness: Witness::ScpUrl,
        hint: "is not a \"iri-reference\"",
        reason: "CycloneDX 1.4: scp-style git@github.com:x/y.git is not an iri-reference",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/chronicle-sbom.spdx.json",
        witness: Witness::SpdxLacks("copyrightText"),
        hint: "\"copyrightText\" is a required property",
        reason: "SPDX 2.2 JSON: packages without copyrightText",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/fatbom-sbom.spdx",
        witness: Witness::TagMissing("Created"),
        hint: "lacks mandatory tag Created",
        reason: "SPDX 2.2 tag-value without the mandatory Created tag",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/flagger_1.18.0_sbom.spdx.json",
        witness: Witness::LowerCaseSha256,
        hint: "\"sha256\" is not one of",
        reason: "SPDX 2.2 (Flux): lower-case checksum algorithm sha256",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/flux_0.26.3_sbom.spdx.json",
        witness: Witness::LowerCaseSha256,
        hint: "\"sha256\" is not one of",
        reason: "SPDX 2.2 (Flux): lower-case checksum algorithm sha256",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/powershell.spdx.json",
        witness: Witness::FileKey("licenseInfoInFile"),
        hint: "\"licenseInfoInFiles\" is a required property",
        reason: "SPDX 2.2: files write licenseInfoInFile for licenseInfoInFiles",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/source-controller_0.21.2_sbom.spdx.json",
        witness: Witness::LowerCaseSha256,
        hint: "\"sha256\" is not one of",
        reason: "SPDX 2.2 (Flux): lower-case checksum algorithm sha256",
    },
    KnownInvalid {
        path: "bom-shelter/in-the-wild/spdx/vast-sbom.spdx",
        witness: Witness::PackageWithoutSpdxid,
        hint: "lacks mandatory tag SPDXID",
        reason: "SPDX 2.2 tag-value: packages without SPDXID",
    },
];

/// A defect of a known-invalid file, found in its raw bytes by this test's own code.
#[derive(Debug, Clone, Copy)]
enum Witness {
    /// SPDX 2.2 JSON with a package or file without this field (mandatory in 2.2).
    SpdxLacks(&'static str),
    /// CycloneDX JSON licence given by `url` alone (the schema needs `id` or `name`).
    LicenceUrlOnly,
    /// CycloneDX JSON external reference `git@host:path`, not an IRI reference.
    ScpUrl,
    /// SPDX JSON checksum algorithm `sha256`: the schema's enum is upper case.
    LowerCaseSha256,
    /// SPDX JSON file with this misspelt key.
    FileKey(&'static str),
    /// Tag-value without this mandatory document tag.
    TagMissing(&'static str),
    /// Tag-value package section without an SPDXID.
    PackageWithoutSpdxid,
}

impl Witness {
    fn holds(self, bytes: &[u8]) -> bool {
        let json = || serde_json::from_slice::<Value>(strip_bom(bytes)).unwrap_or(Value::Null);
        let list = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        match self {
            Witness::SpdxLacks(field) => {
                let doc = json();
                doc["spdxVersion"] == "SPDX-2.2"
                    && list(&doc, "packages")
                        .iter()
                        .chain(&list(&doc, "files"))
                        .any(|e| e.get(field).is_none())
            }
            Witness::LicenceUrlOnly => {
                let mut found = false;
                visit(&json(), &mut |v| {
                    if let Some(l) = v.get("license") {
                        found |= l.get("url").is_some()
                            && l.get("id").is_none()
                            && l.get("name").is_none();
                    }
                });
                found
            }
            Witness::ScpUrl => {
                let mut found = false;
                visit(&json(), &mut |v| {
                    for r in list(v, "externalReferences") {
                        found |= r["url"].as_str().is_some_and(|u| u.starts_with("git@"));
                    }
                });
                found
            }
            Witness::LowerCaseSha256 => {
                let mut found = false;
                visit(&json(), &mut |v| {
                    found |= v.get("algorithm").is_some_and(|a| a == "sha256")
                });
                found
            }
            Witness::FileKey(key) => list(&json(), "files").iter().any(|f| f.get(key).is_some()),
            Witness::TagMissing(tag) => {
                let text = String::from_utf8_lossy(bytes);
                !text
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{tag}:")))
            }
            Witness::PackageWithoutSpdxid => {
                let text = String::from_utf8_lossy(bytes);
                let tags: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.split_once(':').map(|(t, _)| t.trim()))
                    .collect();
                tags.iter().enumerate().any(|(i, t)| {
                    *t == "PackageName"
                        && !tags[i + 1..]
                            .iter()
                            .take_while(|t| {
                                !["PackageName", "FileName", "SnippetSPDXID", "LicenseID"]
                                    .contains(t)
                            })
                            .any(|t| *t == "SPDXID")
                })
            }
        }
    }
}

/// Calls `f` on every JSON value, depth first.
fn visit(v: &Value, f: &mut impl FnMut(&Value)) {
    f(v);
    match v {
        Value::Array(items) => items.iter().for_each(|i| visit(i, f)),
        Value::Object(map) => map.values().for_each(|i| visit(i, f)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// What a file is, decided from its bytes.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Format {
    CdxJson,
    CdxXml,
    SpdxJson,
    SpdxTagValue,
}

impl Format {
    /// The registered media type, which is also what `GET .../sbom` must answer with.
    fn media_type(self) -> &'static str {
        match self {
            Format::CdxJson => "application/vnd.cyclonedx+json",
            Format::CdxXml => "application/vnd.cyclonedx+xml",
            Format::SpdxJson => "application/spdx+json",
            Format::SpdxTagValue => "text/spdx",
        }
    }

    /// The `format` field of a release record.
    fn record_name(self) -> &'static str {
        match self {
            Format::CdxJson => "cyclonedx-json",
            Format::CdxXml => "cyclonedx-xml",
            Format::SpdxJson => "spdx-json",
            Format::SpdxTagValue => "spdx-tag-value",
        }
    }
}

/// What the document holds, computed here: the component count and the subject's identifiers.
#[derive(Debug, Clone)]
struct Content {
    format: Format,
    /// `1.5`, `2.3`...
    version: String,
    components: usize,
    /// How many subject entries the record must have (CycloneDX: 0 or 1; SPDX: described packages).
    subjects: usize,
    /// bom-refs / SPDXIDs of the subject, where the document gives them.
    subject_refs: BTreeSet<String>,
}

#[derive(Debug, Clone)]
enum Class {
    /// A CycloneDX 1.2-1.7 or SPDX 2.2/2.3 document.
    Sbom(Content),
    /// A CycloneDX specification invalid test vector (file name `invalid-*`): 422 when strict.
    InvalidVector(Format),
    /// Not well-formed JSON or XML.
    Malformed(&'static str),
    /// Well-formed but not an SBOM soupwatch reads; the string says what it is.
    NotSbom(String),
}

impl Class {
    fn label(&self, known_invalid: bool) -> String {
        match self {
            Class::Sbom(c) if known_invalid => {
                format!("{:?} {} (known invalid)", c.format, c.version)
            }
            Class::Sbom(c) => format!("{:?} {}", c.format, c.version),
            Class::InvalidVector(f) => format!("spec invalid vector ({f:?})"),
            Class::Malformed(syntax) => format!("malformed {syntax}"),
            Class::NotSbom(what) => format!("not an SBOM: {what}"),
        }
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn classify(rel: &str, bytes: &[u8]) -> Class {
    let body = strip_bom(bytes);
    let name = rel.rsplit('/').next().unwrap();
    if rel.starts_with("cyclonedx/specification-examples/") && name.starts_with("invalid-") {
        // The vectors declare the CycloneDX 1.6 JSON schema; they are invalid on purpose.
        assert!(
            serde_json::from_slice::<Value>(body).is_ok(),
            "{rel} is a well-formed vector"
        );
        return Class::InvalidVector(Format::CdxJson);
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => classify_json(body),
        Some(b'<') => classify_xml(body),
        _ => classify_text(body),
    }
}

fn classify_json(body: &[u8]) -> Class {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Class::Malformed("JSON");
    };
    let Some(obj) = doc.as_object() else {
        return Class::NotSbom("JSON, not an object".into());
    };
    let s = |k: &str| obj.get(k).and_then(Value::as_str);
    if obj.contains_key("@context") || obj.contains_key("@graph") {
        return Class::NotSbom("SPDX 3.0 JSON-LD".into());
    }
    if s("bomFormat") == Some("CycloneDX") {
        let v = s("specVersion").unwrap_or("");
        if !["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"].contains(&v) {
            return Class::NotSbom(format!("CycloneDX {v} JSON"));
        }
        let (components, subjects, subject_refs) = count_cdx_json(&doc);
        return Class::Sbom(Content {
            format: Format::CdxJson,
            version: v.into(),
            components,
            subjects,
            subject_refs,
        });
    }
    if let Some(v) = s("spdxVersion") {
        let Some(version) = v
            .strip_prefix("SPDX-")
            .filter(|v| ["2.2", "2.3"].contains(v))
        else {
            return Class::NotSbom(format!("SPDX version {v}"));
        };
        let (components, subject_refs) = count_spdx_json(&doc);
        return Class::Sbom(Content {
            format: Format::SpdxJson,
            version: version.into(),
            components,
            subjects: subject_refs.len(),
            subject_refs,
        });
    }
    if s("$schema").is_some_and(|u| u.contains("json-schema.org")) {
        return Class::NotSbom("JSON Schema".into());
    }
    Class::NotSbom("other JSON".into())
}

fn classify_xml(body: &[u8]) -> Class {
    let Ok(walk) = walk_xml(body) else {
        return Class::Malformed("XML");
    };
    let version = walk
        .root_namespace
        .as_deref()
        .and_then(|ns| ns.strip_prefix("http://cyclonedx.org/schema/bom/"));
    match (walk.root_local.as_str(), version) {
        ("bom", Some(v)) if ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"].contains(&v) => {
            Class::Sbom(Content {
                format: Format::CdxXml,
                version: v.into(),
                components: walk.components - walk.subject_repeats,
                subjects: usize::from(walk.has_subject),
                subject_refs: walk.subject_ref.into_iter().collect(),
            })
        }
        ("bom", Some(v)) => Class::NotSbom(format!("CycloneDX {v} XML")),
        (root, _) => Class::NotSbom(format!("XML <{root}>")),
    }
}

fn classify_text(body: &[u8]) -> Class {
    let Ok(text) = std::str::from_utf8(body) else {
        return Class::NotSbom("binary".into());
    };
    let first = text
        .split(['\n', '\r'])
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(declared) = first
        .and_then(|l| l.strip_prefix("SPDXVersion:"))
        .map(str::trim)
    else {
        return Class::NotSbom("text (Markdown, CSV, YAML, licence...)".into());
    };
    let Some(version) = declared
        .strip_prefix("SPDX-")
        .filter(|v| ["2.2", "2.3"].contains(v))
    else {
        return Class::NotSbom(format!("SPDX tag-value {declared}"));
    };
    let (components, subject_refs) = count_spdx_tag_value(text);
    Class::Sbom(Content {
        format: Format::SpdxTagValue,
        version: version.into(),
        components,
        subjects: subject_refs.len(),
        subject_refs,
    })
}

// ---------------------------------------------------------------------------------------------
// Independent component counts.

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// CycloneDX JSON: every object of a `components` array under the root or under
/// `metadata.component`, at any depth, except repeats of the subject's bom-ref.
fn count_cdx_json(doc: &Value) -> (usize, usize, BTreeSet<String>) {
    fn walk(v: &Value, subject_ref: Option<&str>, out: &mut usize) {
        for c in v
            .get("components")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !c.is_object() {
                continue;
            }
            if subject_ref.is_none() || str_of(c, "bom-ref") != subject_ref {
                *out += 1;
            }
            walk(c, subject_ref, out);
        }
    }
    let subject = doc.pointer("/metadata/component").filter(|s| s.is_object());
    let subject_ref = subject.and_then(|s| str_of(s, "bom-ref"));
    let mut n = 0;
    walk(doc, subject_ref, &mut n);
    if let Some(s) = subject {
        walk(s, subject_ref, &mut n);
    }
    let refs = subject_ref.map(str::to_string).into_iter().collect();
    (n, usize::from(subject.is_some()), refs)
}

/// What one xml-rs pass over a document finds.
struct XmlWalk {
    root_local: String,
    root_namespace: Option<String>,
    /// `<component>`s on a bom/components/component(/components/component)* path, or the same
    /// under bom/metadata/component.
    components: usize,
    has_subject: bool,
    subject_ref: Option<String>,
    /// Components that repeat the subject's bom-ref.
    subject_repeats: usize,
}

fn walk_xml(bytes: &[u8]) -> Result<XmlWalk, xml::reader::Error> {
    use xml::reader::{EventReader, XmlEvent};
    let mut stack: Vec<String> = Vec::new();
    let mut walk = XmlWalk {
        root_local: String::new(),
        root_namespace: None,
        components: 0,
        has_subject: false,
        subject_ref: None,
        subject_repeats: 0,
    };
    let mut component_refs: Vec<String> = Vec::new();
    for event in EventReader::new(bytes) {
        match event? {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                if stack.is_empty() {
                    walk.root_local = name.local_name.clone();
                    walk.root_namespace = name.namespace.clone();
                }
                // Only elements of the document's own namespace: extensions may reuse names.
                let local = if name.namespace == walk.root_namespace {
                    name.local_name.clone()
                } else {
                    format!("{{ext}}{}", name.local_name)
                };
                stack.push(local);
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                let bom_ref = attributes
                    .iter()
                    .find(|a| a.name.local_name == "bom-ref" && a.name.namespace.is_none())
                    .map(|a| a.value.clone())
                    .filter(|r| !r.trim().is_empty());
                if path == ["bom", "metadata", "component"] {
                    walk.has_subject = true;
                    walk.subject_ref = bom_ref;
                } else if on_component_path(&path) {
                    walk.components += 1;
                    component_refs.extend(bom_ref);
                }
            }
            XmlEvent::EndElement { .. } => {
                stack.pop();
            }
            _ => {}
        }
    }
    if let Some(s) = &walk.subject_ref {
        walk.subject_repeats = component_refs.iter().filter(|r| *r == s).count();
    }
    Ok(walk)
}

fn on_component_path(path: &[&str]) -> bool {
    let rest = match path {
        ["bom", "components", rest @ ..] => rest,
        ["bom", "metadata", "component", "components", rest @ ..] => rest,
        _ => return false,
    };
    // component (components component)*
    rest.len() % 2 == 1
        && rest.iter().enumerate().all(|(i, n)| {
            *n == if i % 2 == 0 {
                "component"
            } else {
                "components"
            }
        })
}

/// SPDX JSON: packages not DESCRIBED by the document, and the SPDXIDs of those that are.
fn count_spdx_json(doc: &Value) -> (usize, BTreeSet<String>) {
    let doc_id = str_of(doc, "SPDXID").unwrap_or("SPDXRef-DOCUMENT");
    let mut described: HashSet<&str> = doc
        .get("documentDescribes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for r in doc
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (a, t, b) = (
            str_of(r, "spdxElementId"),
            str_of(r, "relationshipType"),
            str_of(r, "relatedSpdxElement"),
        );
        match (a, t, b) {
            (Some(a), Some("DESCRIBES"), Some(b)) if a == doc_id => {
                described.insert(b);
            }
            (Some(a), Some("DESCRIBED_BY"), Some(b)) if b == doc_id => {
                described.insert(a);
            }
            _ => {}
        }
    }
    let mut components = 0;
    let mut subject = BTreeSet::new();
    for p in doc
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !p.is_object() {
            continue;
        }
        match str_of(p, "SPDXID") {
            Some(id) if described.contains(id) => {
                subject.insert(id.to_string());
            }
            _ => components += 1,
        }
    }
    (components, subject)
}

/// SPDX tag-value: `PackageName:` sections not DESCRIBED by the document. Multi-line
/// `<text>...</text>` values are skipped so their content is never read as tags.
fn count_spdx_tag_value(text: &str) -> (usize, BTreeSet<String>) {
    #[derive(PartialEq)]
    enum Section {
        Document,
        Package,
        Other,
    }
    let mut section = Section::Document;
    let mut doc_id: Option<String> = None;
    let mut packages: Vec<Option<String>> = Vec::new();
    let mut relationships: Vec<(String, String, String)> = Vec::new();
    let mut in_text = false;
    for raw in text.split(['\n', '\r']) {
        if in_text {
            in_text = !raw.contains("</text>");
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((tag, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.starts_with("<text>") && !value.contains("</text>") {
            in_text = true;
        }
        match tag.trim() {
            "PackageName" => {
                packages.push(None);
                section = Section::Package;
            }
            "FileName" | "SnippetSPDXID" | "LicenseID" => section = Section::Other,
            "SPDXID" => match section {
                Section::Document if doc_id.is_none() => doc_id = Some(value.to_string()),
                Section::Package => {
                    if let Some(last) = packages.last_mut() {
                        last.get_or_insert_with(|| value.to_string());
                    }
                }
                _ => {}
            },
            "Relationship" => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                if let [a, t, b, ..] = parts[..] {
                    relationships.push((a.into(), t.into(), b.into()));
                }
            }
            _ => {}
        }
    }
    let doc_id = doc_id.unwrap_or_else(|| "SPDXRef-DOCUMENT".into());
    let mut described = HashSet::new();
    for (a, t, b) in &relationships {
        if t == "DESCRIBES" && *a == doc_id {
            described.insert(b.clone());
        } else if t == "DESCRIBED_BY" && *b == doc_id {
            described.insert(a.clone());
        }
    }
    let mut components = 0;
    let mut subject = BTreeSet::new();
    for id in packages {
        match id {
            Some(id) if described.contains(&id) => {
                subject.insert(id);
            }
            _ => components += 1,
        }
    }
    (components, subject)
}

// ---------------------------------------------------------------------------------------------
// The run.

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

struct Case {
    rel: String,
    product: String,
    bytes: Arc<Vec<u8>>,
    class: Class,
    /// `(hint, reason)` for a document the strict daemon must refuse as invalid.
    known_invalid: Option<(&'static str, &'static str)>,
}

impl Case {
    /// The status each daemon must answer with.
    fn expected(&self, strict: bool) -> u16 {
        match &self.class {
            Class::Sbom(_) if strict && self.known_invalid.is_some() => 422,
            Class::Sbom(_) => 201,
            Class::InvalidVector(_) if strict => 422,
            Class::InvalidVector(_) => 201,
            Class::Malformed(_) => 400,
            Class::NotSbom(_) => 415,
        }
    }

    /// What the lax daemon's upload declares: the real media type of what the file is, as a
    /// release pipeline would send it. The strict daemon gets no content type and must sniff.
    fn declared_type(&self) -> Option<&'static str> {
        match &self.class {
            Class::Sbom(c) => Some(c.format.media_type()),
            Class::InvalidVector(f) => Some(f.media_type()),
            _ => None,
        }
    }
}

/// Everything one upload and its follow-up reads saw.
struct Observed {
    status: u16,
    body: Value,
    /// `GET .../releases/1`: status and body.
    record: (u16, Value),
    /// `GET .../components` after a 201.
    components: Option<Value>,
    /// `GET .../sbom` after a 201: content type and bytes.
    sbom: Option<(String, Vec<u8>)>,
}

async fn upload(
    c: reqwest::Client,
    base: String,
    tok: String,
    case: Arc<Case>,
    declare: bool,
) -> Observed {
    let url = |tail: &str| format!("{base}/api/v1/products/{}/releases/1{tail}", case.product);
    let mut req = c
        .put(url("/sbom"))
        .bearer_auth(&tok)
        .body(case.bytes.to_vec());
    if let (true, Some(ct)) = (declare, case.declared_type()) {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let r = c.get(url("")).bearer_auth(&tok).send().await.unwrap();
    let record = (r.status().as_u16(), r.json().await.unwrap_or(Value::Null));
    let (mut components, mut sbom) = (None, None);
    if status == 201 {
        let r = c
            .get(url("/components"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        components = Some(r.json().await.unwrap_or(Value::Null));
        let r = c.get(url("/sbom")).bearer_auth(&tok).send().await.unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        sbom = Some((ct, r.bytes().await.unwrap().to_vec()));
    }
    Observed {
        status,
        body,
        record,
        components,
        sbom,
    }
}

/// Checks one observed upload against the case; returns every problem found.
fn check(case: &Case, strict: bool, o: &Observed, token_name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mode = if strict { "strict" } else { "lax" };
    let mut fail = |m: String| problems.push(format!("[{mode}] {}: {m}", case.rel));
    let want = case.expected(strict);
    if o.status != want {
        fail(format!(
            "expected {want} ({}), got {}: {}",
            case.class.label(case.known_invalid.is_some()),
            o.status,
            truncate(&o.body.to_string())
        ));
        return problems;
    }
    if want != 201 {
        // A refusal: a JSON error body, and nothing stored.
        let code = o.body["error"].as_str().unwrap_or_default();
        let want_code = match want {
            400 => "malformed",
            415 => "unsupported_format",
            _ => "invalid",
        };
        if code != want_code {
            fail(format!(
                "error code {code:?}, want {want_code:?}: {}",
                truncate(&o.body.to_string())
            ));
        }
        if o.body["message"]
            .as_str()
            .is_none_or(|m| m.trim().is_empty())
        {
            fail(format!("no message: {}", o.body));
        }
        if want == 422 {
            let details = o.body["details"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if details.is_empty() {
                fail(format!(
                    "422 without details: {}",
                    truncate(&o.body.to_string())
                ));
            }
            for d in details {
                if d["path"].as_str().is_none()
                    || d["message"].as_str().is_none_or(|m| m.is_empty())
                {
                    fail(format!("detail without path/message: {d}"));
                }
            }
            if let Some((hint, _)) = case.known_invalid {
                let hit = details.iter().any(|d| {
                    format!(
                        "{} {}",
                        d["path"].as_str().unwrap_or_default(),
                        d["message"].as_str().unwrap_or_default()
                    )
                    .contains(hint)
                });
                if !hit {
                    fail(format!(
                        "no issue mentions {hint:?}: {}",
                        truncate(&o.body.to_string())
                    ));
                }
            }
        }
        if o.record.0 != 404 || o.record.1["error"] != "not_found" {
            fail(format!(
                "refused upload left a release: {} {}",
                o.record.0, o.record.1
            ));
        }
        return problems;
    }

    // Accepted.
    let bytes = case.bytes.as_slice();
    let rec = &o.body;
    let sha = hex::encode(Sha256::digest(bytes));
    if rec["sha256"] != sha.as_str() || rec["size"] != bytes.len() as u64 {
        fail(format!(
            "sha256/size {} {} differ from the bytes ({sha}, {})",
            rec["sha256"],
            rec["size"],
            bytes.len()
        ));
    }
    if rec["uploaded_by"] != token_name || rec["revision"] != 1 {
        fail(format!(
            "uploaded_by/revision: {} {}",
            rec["uploaded_by"], rec["revision"]
        ));
    }
    // The stored record reads back as answered (plus its history).
    let mut stored = o.record.1.clone();
    if let Some(obj) = stored.as_object_mut() {
        obj.remove("history");
    }
    if o.record.0 != 200 || stored != *rec {
        fail(format!(
            "GET record differs from the 201 answer: {} {}",
            o.record.0,
            truncate(&stored.to_string())
        ));
    }
    let warnings = rec["warnings"].as_array().map(Vec::len).unwrap_or(0);
    let expect_warnings =
        case.known_invalid.is_some() || matches!(case.class, Class::InvalidVector(_));
    if (warnings > 0) != expect_warnings {
        fail(format!(
            "{warnings} warnings, expected {}",
            if expect_warnings { "some" } else { "none" }
        ));
    }
    let components = o
        .components
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let format = match &case.class {
        Class::Sbom(c) => c.format,
        Class::InvalidVector(f) => *f,
        _ => unreachable!(),
    };
    if rec["format"] != format.record_name() {
        fail(format!(
            "format {} , expected {}",
            rec["format"],
            format.record_name()
        ));
    }
    if let Class::Sbom(content) = &case.class {
        if rec["spec_version"] != content.version.as_str() {
            fail(format!(
                "spec_version {}, expected {}",
                rec["spec_version"], content.version
            ));
        }
        if rec["component_count"] != content.components as u64
            || components.len() != content.components
        {
            fail(format!(
                "component_count {} / GET components {}, counted {}",
                rec["component_count"],
                components.len(),
                content.components
            ));
        }
        let subject = rec["subject"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let subject_refs: BTreeSet<String> = subject
            .iter()
            .filter_map(|s| s["bom_ref"].as_str())
            .map(str::to_string)
            .collect();
        if subject.len() != content.subjects || subject_refs != content.subject_refs {
            fail(format!(
                "subject {:?} ({} entries), expected {:?} ({})",
                subject_refs,
                subject.len(),
                content.subject_refs,
                content.subjects
            ));
        }
        let leaked: Vec<&str> = components
            .iter()
            .filter_map(|c| c["bom_ref"].as_str())
            .filter(|r| subject_refs.contains(*r))
            .collect();
        if !leaked.is_empty() {
            fail(format!("subject listed among the components: {leaked:?}"));
        }
    }
    match &o.sbom {
        Some((ct, back)) if ct == format.media_type() && back.as_slice() == bytes => {}
        Some((ct, back)) => fail(format!(
            "GET sbom: content type {ct:?} (want {}), {} bytes back, identical: {}",
            format.media_type(),
            back.len(),
            back.as_slice() == bytes
        )),
        None => fail("GET sbom not read".into()),
    }
    problems
}

fn truncate(s: &str) -> String {
    s.chars().take(400).collect()
}

/// Uploads every case to one daemon, a few at a time, biggest files first.
async fn run_all(d: &Daemon, tok: &str, cases: &[Arc<Case>], declare: bool) -> Vec<Observed> {
    let c = client();
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cases[i].bytes.len()));
    let mut tasks = Vec::new();
    for i in order {
        let (c, base, tok, case, slots) = (
            c.clone(),
            d.base.clone(),
            tok.to_string(),
            cases[i].clone(),
            slots.clone(),
        );
        tasks.push((
            i,
            tokio::spawn(async move {
                let _permit = slots.acquire_owned().await.unwrap();
                upload(c, base, tok, case, declare).await
            }),
        ));
    }
    let mut out: Vec<Option<Observed>> = (0..cases.len()).map(|_| None).collect();
    for (i, t) in tasks {
        out[i] = Some(t.await.unwrap());
    }
    out.into_iter().map(Option::unwrap).collect()
}

async fn listed_products(d: &Daemon, tok: &str) -> BTreeMap<String, u64> {
    let v: Value = client()
        .get(d.url("/api/v1/products"))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["product"].as_str().unwrap().to_string(),
                p["releases"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A daemon on its own data folder under `dir` with an uploader token. Feed syncs are off: this
/// test is about ingestion, and offline feed retries would only slow the shutdown.
fn start(dir: &Path, strict: bool) -> (Daemon, String) {
    let name = if strict { "strict" } else { "lax" };
    let data = dir.join(name);
    let tok = make_token(&data, "pipeline", "uploader");
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!("[ingest]\nstrict = {strict}\n\n[feeds]\nschedule = false\n"),
    )
    .unwrap();
    (
        Daemon::start(&data, &["--config", cfg.to_str().unwrap()]),
        tok,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_through_the_api_strict_and_lax() {
    let started = Instant::now();
    let root = corpus().join("sbom");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    assert!(paths.len() >= 250, "corpus missing? {} files", paths.len());

    let cases: Vec<Arc<Case>> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(p).unwrap();
            let class = classify(&rel, &bytes);
            let listed = KNOWN_INVALID.iter().find(|k| k.path == rel);
            if let Some(KnownInvalid { witness, .. }) = listed {
                assert!(
                    matches!(class, Class::Sbom(_)),
                    "{rel} listed as known invalid but is {class:?}"
                );
                assert!(
                    witness.holds(&bytes),
                    "{rel}: the listed defect {witness:?} is not in the file"
                );
            }
            let known_invalid = listed.map(|k| (k.hint, k.reason));
            Arc::new(Case {
                rel,
                product: format!("c{i:03}"),
                bytes: Arc::new(bytes),
                class,
                known_invalid,
            })
        })
        .collect();
    for KnownInvalid { path, .. } in KNOWN_INVALID {
        assert!(
            cases.iter().any(|c| c.rel == *path),
            "known-invalid file {path} is not in the corpus"
        );
    }
    let classified = started.elapsed();

    let dir = tempfile::tempdir().unwrap();
    let (strict, strict_tok) = start(dir.path(), true);
    let (lax, lax_tok) = start(dir.path(), false);

    let upload_start = Instant::now();
    let (strict_seen, lax_seen) = tokio::join!(
        run_all(&strict, &strict_tok, &cases, false),
        run_all(&lax, &lax_tok, &cases, true)
    );
    let uploaded = upload_start.elapsed();

    let mut problems = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        problems.extend(check(case, true, &strict_seen[i], "pipeline"));
        problems.extend(check(case, false, &lax_seen[i], "pipeline"));
    }
    // A refused upload created no product: the listing is exactly the accepted files' products.
    for (d, tok, seen, mode) in [
        (&strict, &strict_tok, &strict_seen, "strict"),
        (&lax, &lax_tok, &lax_seen, "lax"),
    ] {
        let listed = listed_products(d, tok).await;
        let accepted: BTreeMap<String, u64> = cases
            .iter()
            .zip(seen.iter())
            .filter(|(_, o)| o.status == 201)
            .map(|(c, _)| (c.product.clone(), 1))
            .collect();
        if listed != accepted {
            let extra: Vec<_> = listed
                .keys()
                .filter(|p| !accepted.contains_key(*p))
                .collect();
            let missing: Vec<_> = accepted
                .keys()
                .filter(|p| !listed.contains_key(*p))
                .collect();
            problems.push(format!(
                "[{mode}] GET /products: extra {extra:?}, missing {missing:?}"
            ));
        }
    }

    // Summary: outcome per class, strict and lax side by side.
    let mut table: BTreeMap<String, BTreeMap<(u16, u16), usize>> = BTreeMap::new();
    let mut components_total = 0usize;
    for (i, case) in cases.iter().enumerate() {
        let key = (strict_seen[i].status, lax_seen[i].status);
        *table
            .entry(case.class.label(case.known_invalid.is_some()))
            .or_default()
            .entry(key)
            .or_default() += 1;
        if let Class::Sbom(c) = &case.class {
            if strict_seen[i].status == 201 || lax_seen[i].status == 201 {
                components_total += c.components;
            }
        }
    }
    let mut per_status: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for i in 0..cases.len() {
        *per_status
            .entry(("strict", strict_seen[i].status))
            .or_default() += 1;
        *per_status.entry(("lax", lax_seen[i].status)).or_default() += 1;
    }
    eprintln!(
        "\nSBOM corpus through the API: {} files, {components_total} components in accepted SBOMs",
        cases.len()
    );
    eprintln!(
        "  {:<55} {:>6} {:>6} {:>5}",
        "class", "strict", "lax", "files"
    );
    for (label, outcomes) in &table {
        for ((s, l), n) in outcomes {
            eprintln!("  {label:<55} {s:>6} {l:>6} {n:>5}");
        }
    }
    eprintln!("  totals: {per_status:?}");
    for KnownInvalid { path, reason, .. } in KNOWN_INVALID {
        eprintln!("  known invalid: {path}: {reason}");
    }
    eprintln!(
        "  time: classify {:.1?}, uploads and reads {:.1?}, total {:.1?}",
        classified,
        uploaded,
        started.elapsed()
    );

    strict.stop();
    lax.stop();
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Spec rules the corpus never exercises: DESCRIBED_BY, the subject repeated among the
// components with children of its own, parts nested under the subject, and tag-value text
// blocks that contain tag-like lines. Small hand-written documents, valid against their schema.

const EDGE_SPDX_JSON: &str = r#"{
  "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
  "name": "edge", "documentNamespace": "https://example.com/spdx/edge-json-1",
  "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: hand"]},
  "packages": [
    {"SPDXID": "SPDXRef-device", "name": "device-fw", "versionInfo": "4.2", "downloadLocation": "NOASSERTION", "filesAnalyzed": false},
    {"SPDXID": "SPDXRef-zlib", "name": "zlib", "versionInfo": "1.3", "downloadLocation": "NOASSERTION", "filesAnalyzed": false},
    {"SPDXID": "SPDXRef-openssl", "name": "openssl", "versionInfo": "3.0.13", "downloadLocation": "NOASSERTION", "filesAnalyzed": false}
  ],
  "relationships": [
    {"spdxElementId": "SPDXRef-device", "relationshipType": "DESCRIBED_BY", "relatedSpdxElement": "SPDXRef-DOCUMENT"},
    {"spdxElementId": "SPDXRef-device", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-zlib"}
  ]
}"#;

const EDGE_CDX_JSON: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"component": {"type": "firmware", "bom-ref": "device", "name": "device-fw", "version": "4.2",
    "components": [{"type": "library", "bom-ref": "lib-a", "name": "a", "version": "1",
      "components": [{"type": "library", "bom-ref": "lib-a1", "name": "a1", "version": "1"}]}]}},
  "components": [
    {"type": "firmware", "bom-ref": "device", "name": "device-fw", "version": "4.2",
      "components": [{"type": "library", "bom-ref": "lib-b", "name": "b", "version": "2"}]},
    {"type": "library", "bom-ref": "lib-c", "name": "c", "version": "3"}
  ]
}"#;

const EDGE_CDX_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <metadata>
    <component type="firmware" bom-ref="device">
      <name>device-fw</name><version>4.2</version>
      <components>
        <component type="library" bom-ref="lib-a"><name>a</name><version>1</version>
          <components>
            <component type="library" bom-ref="lib-a1"><name>a1</name><version>1</version></component>
          </components>
        </component>
      </components>
    </component>
  </metadata>
  <components>
    <component type="firmware" bom-ref="device"><name>device-fw</name><version>4.2</version>
      <components>
        <component type="library" bom-ref="lib-b"><name>b</name><version>2</version></component>
      </components>
    </component>
    <component type="library" bom-ref="lib-c"><name>c</name><version>3</version></component>
  </components>
</bom>
"#;

const EDGE_TAG_VALUE: &str = "SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: edge
DocumentNamespace: https://example.com/spdx/edge-tv-1
Creator: Tool: hand
Created: 2024-01-01T00:00:00Z
DocumentComment: <text>A comment over several lines,
PackageName: not-a-package
</text>

PackageName: device-fw
SPDXID: SPDXRef-device
PackageVersion: 4.2
PackageDownloadLocation: NOASSERTION
FilesAnalyzed: false

PackageName: zlib
SPDXID: SPDXRef-zlib
PackageVersion: 1.3
PackageDownloadLocation: NOASSERTION
FilesAnalyzed: false
PackageComment: <text>vendored copy,
SPDXID: SPDXRef-not-an-id
</text>

Relationship: SPDXRef-device DESCRIBED_BY SPDXRef-DOCUMENT
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_edge_cases_the_corpus_lacks() {
    type Doc = (
        &'static str,
        &'static str,
        usize,
        &'static [&'static str],
        Option<(&'static str, &'static str)>,
    );
    let docs: [Doc; 4] = [
        // (name, document, components, subject refs, known invalid): hand-counted, and the
        // counters of this file must agree.
        (
            "edge/described-by.spdx.json",
            EDGE_SPDX_JSON,
            2,
            &["SPDXRef-device"],
            None,
        ),
        // A JSON schema cannot express "every bom-ref MUST be unique", so strict accepts it.
        (
            "edge/subject-repeated.cdx.json",
            EDGE_CDX_JSON,
            4,
            &["device"],
            None,
        ),
        (
            "edge/subject-repeated.cdx.xml",
            EDGE_CDX_XML,
            4,
            &["device"],
            Some((
                "not unique",
                "the subject's bom-ref repeated: the XSD's xs:unique on @bom-ref refuses it",
            )),
        ),
        (
            "edge/text-blocks.spdx",
            EDGE_TAG_VALUE,
            1,
            &["SPDXRef-device"],
            None,
        ),
    ];
    let cases: Vec<Arc<Case>> = docs
        .iter()
        .enumerate()
        .map(|(i, (rel, doc, n, subject, known_invalid))| {
            let class = classify(rel, doc.as_bytes());
            let Class::Sbom(content) = &class else {
                panic!("{rel}: {class:?}")
            };
            assert_eq!(content.components, *n, "{rel}");
            let want: BTreeSet<String> = subject.iter().map(|s| s.to_string()).collect();
            assert_eq!(content.subject_refs, want, "{rel}");
            Arc::new(Case {
                rel: rel.to_string(),
                product: format!("e{i}"),
                bytes: Arc::new(doc.as_bytes().to_vec()),
                class,
                known_invalid: *known_invalid,
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (strict, strict_tok) = start(dir.path(), true);
    let (lax, lax_tok) = start(dir.path(), false);
    let (strict_seen, lax_seen) = tokio::join!(
        run_all(&strict, &strict_tok, &cases, false),
        run_all(&lax, &lax_tok, &cases, true)
    );
    let mut problems = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        problems.extend(check(case, true, &strict_seen[i], "pipeline"));
        problems.extend(check(case, false, &lax_seen[i], "pipeline"));
    }
    strict.stop();
    lax.stop();
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
