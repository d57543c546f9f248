//! SBOM ingestion, pure: bytes (and the upload's content type) in, a normalised [`ParsedSbom`]
//! or a precise [`IngestError`] out. No I/O, no network, no panics on any input.
//!
//! Formats: CycloneDX JSON and XML 1.2-1.7, SPDX 2.2/2.3 JSON and tag-value. The format comes
//! from the content type when it is specific, else from sniffing the bytes; a specific content
//! type the bytes contradict is refused (415).
//!
//! Which crate does what, and why:
//! - **serde_json** parses every JSON document exactly once into a `Value`; its recursion limit
//!   (128) bounds nesting. Everything below works on that one `Value`.
//! - **jsonschema** (0.61, no default features) validates JSON documents against the official
//!   schemas embedded from `schemas/` (CycloneDX bom-1.2 to 1.7 with `spdx`, `jsf-0.82` and
//!   `cryptography-defs`; SPDX 2.2 and 2.3), resolved offline by an embedded `Retrieve`, each
//!   validator compiled once on first use. This is the validation: it accepted and refused the
//!   official CycloneDX corpus exactly, where `cyclonedx-bom` reads no 1.6/1.7 at all.
//! - The **normalisers** (`cdx.rs`, `spdx.rs`) read the `Value` directly with small tolerant
//!   accessors rather than a typed serde model: a typed model refuses a whole document over one
//!   mistyped or unknown field (the failure of `spdx-rs` on trivy's SPDX 2.3 JSON), while here a
//!   field of the wrong type is merely absent, which is what `strict = false` needs. They borrow
//!   from the `Value`, one pass, one allocation per kept string.
//! - **cyclonedx-bom** (0.8.1) reads CycloneDX **XML** only: xml-rs based, 1.3-1.5 natively, 1.2
//!   relabelled as 1.3 and 1.6/1.7 as 1.5 (lossy, see `cdx::xml_to_json`). Its model is written
//!   back as CycloneDX JSON and goes through the JSON normaliser, and its `validate()` supplies
//!   the XML validation issues (there is no XSD validator in Rust worth the name). It is not
//!   used for JSON: it rejects 1.2/1.6/1.7 and costs about 3x a `Value` parse on its own.
//! - **spdx-rs** (0.5.5) reads SPDX **tag-value** only (its nom parser read every real file
//!   tried); its `SPDX` model serialises to SPDX JSON field names, so it too feeds the JSON
//!   normaliser. It is not used for SPDX JSON: `deny_unknown_fields` and its enum spellings
//!   refuse real tool output. Its tag-value parser panics (`todo!`/`unimplemented!`/`unwrap`)
//!   on unknown tags, unknown enum values and bad licence expressions, so `spdx::prepare`
//!   drops unknown tags first (reported as issues) and the call runs under `catch_unwind`.
//!   Mandatory tag-value tags are checked here, by line.
//! - **xml-rs** (0.8) runs the XML safety pre-pass (`xml_guard`): DTDs and entity declarations
//!   are refused outright, nesting is capped at 64, well-formedness errors carry line/column.
//!
//! Normalisation rules worth knowing: the document's subject (CycloneDX `metadata.component`,
//! SPDX packages the document DESCRIBES) is `subject`, everything else `components`; CycloneDX
//! components nested at any depth (also under the subject) are flattened; SPDX files and snippets
//! are not components. Dependency edges: CycloneDX `dependencies[]`; SPDX `DEPENDS_ON`,
//! `CONTAINS`, `STATIC_LINK`, `DYNAMIC_LINK` and the reverse `DEPENDENCY_OF`, `CONTAINED_BY`,
//! `*_DEPENDENCY_OF`, between packages only. Supplier: CycloneDX `supplier.name`, else
//! `manufacturer.name`, else `publisher`; SPDX `supplier` without its `Organization:`/`Person:`
//! prefix, `NOASSERTION` meaning none.
//!
//! Strictness: real tool output is often invalid against its own schema (15 of the 152 real
//! SBOMs in the shared corpus: SPDX 2.2 packages without `copyrightText`, lower-case checksum
//! algorithms, licences given by URL only...). `strict = true` refuses those with every issue
//! listed; `strict = false` accepts them and returns the issues as `warnings`.

mod cdx;
mod ntia;
mod schema;
mod spdx;
mod xml_guard;

#[cfg(test)]
mod corpus_tests;

use crate::model::{Component, ParsedSbom, SbomFormat, ValidationIssue};
use cdx::CdxVersion;
use serde_json::Value;
use spdx::SpdxVersion;

/// How ingestion treats documents that are well-formed but invalid against their schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestOptions {
    /// `true`: refuse invalid documents. `false`: accept them, issues become `warnings`.
    pub strict: bool,
}

/// Why a document was refused. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not well-formed JSON, XML or tag-value (HTTP 400); the message says where.
    #[error("malformed document: {message}")]
    Malformed { message: String },
    /// Not an SBOM format and version soupwatch reads (HTTP 415).
    #[error("unsupported format: {message}")]
    UnsupportedFormat { message: String },
    /// Well-formed but invalid against its format's schema or spec (HTTP 422).
    #[error("invalid document: {} problem(s), first: {}", issues.len(), first_issue(issues))]
    Invalid { issues: Vec<ValidationIssue> },
}

fn first_issue(issues: &[ValidationIssue]) -> String {
    issues
        .first()
        .map(|i| format!("{} {}", i.path, i.message))
        .unwrap_or_default()
}

impl IngestError {
    /// Stable machine-readable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Malformed { .. } => "malformed",
            IngestError::UnsupportedFormat { .. } => "unsupported_format",
            IngestError::Invalid { .. } => "invalid",
        }
    }

    /// The HTTP status this refusal is reported with.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::Malformed { .. } => 400,
            IngestError::UnsupportedFormat { .. } => 415,
            IngestError::Invalid { .. } => 422,
        }
    }
}

/// Which SBOM format `bytes` are, from the content type when it is specific, else by sniffing.
pub fn detect(bytes: &[u8], content_type: Option<&str>) -> Result<SbomFormat, IngestError> {
    Ok(sniff(bytes, content_type)?.format())
}

/// Detects, validates and normalises one SBOM document.
pub fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
    opts: &IngestOptions,
) -> Result<ParsedSbom, IngestError> {
    let doc = sniff(bytes, content_type)?;
    let format = doc.format();
    let (mut extracted, issues) = match doc {
        Sniffed::CdxJson { value, version } => {
            let Some(version) = version else {
                return Err(IngestError::Invalid {
                    issues: vec![ValidationIssue {
                        path: "/specVersion".to_string(),
                        message: "CycloneDX document without a specVersion (or $schema) \
                                  naming version 1.2 to 1.7"
                            .to_string(),
                    }],
                });
            };
            let issues = schema::validate(version.schema(), &value);
            check_strict(opts, &issues)?;
            (cdx::normalise(&value, version.as_str()), issues)
        }
        Sniffed::CdxXml { version } => {
            let (value, issues) = cdx::xml_to_json(strip_bom(bytes), version)?;
            check_strict(opts, &issues)?;
            (cdx::normalise(&value, version.as_str()), issues)
        }
        Sniffed::SpdxJson { mut value, version } => {
            spdx::canonicalise_spellings(&mut value);
            let issues = schema::validate(version.schema(), &value);
            check_strict(opts, &issues)?;
            (spdx::normalise(&value, version.as_str()), issues)
        }
        Sniffed::SpdxTagValue { text, version } => {
            let (value, issues) = spdx::tag_value_to_json(&text)?;
            check_strict(opts, &issues)?;
            (spdx::normalise(&value, version.as_str()), issues)
        }
    };
    // spdx-rs repeats tag-value creators; a document may also name a tool twice.
    let mut seen = std::collections::HashSet::new();
    extracted.authors.retain(|a| seen.insert(a.clone()));
    let ntia = ntia::report(&extracted);
    let strip =
        |items: Vec<Item>| -> Vec<Component> { items.into_iter().map(|i| i.component).collect() };
    Ok(ParsedSbom {
        format,
        spec_version: extracted.spec_version,
        subject: strip(extracted.subject),
        components: strip(extracted.components),
        authors: extracted.authors,
        timestamp: extracted.timestamp,
        ntia,
        warnings: issues,
    })
}

fn check_strict(opts: &IngestOptions, issues: &[ValidationIssue]) -> Result<(), IngestError> {
    if opts.strict && !issues.is_empty() {
        return Err(IngestError::Invalid {
            issues: issues.to_vec(),
        });
    }
    Ok(())
}

/// What the normalisers produce, before the NTIA report is drawn from it.
pub(crate) struct Extracted {
    spec_version: String,
    subject: Vec<Item>,
    components: Vec<Item>,
    authors: Vec<String>,
    timestamp: Option<String>,
}

/// A normalised component plus what NTIA needs that the model does not keep.
pub(crate) struct Item {
    component: Component,
    /// Has a SWID tag id (a unique identifier for NTIA, alongside purl and CPE).
    swid: bool,
}

/// A string field of a JSON object; absent when missing, not a string, or blank.
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A document whose format and version are known, parsed as far as sniffing needed.
enum Sniffed {
    CdxJson {
        value: Value,
        /// `None` when the document names no version (invalid, but still CycloneDX).
        version: Option<CdxVersion>,
    },
    CdxXml {
        version: CdxVersion,
    },
    SpdxJson {
        value: Value,
        version: SpdxVersion,
    },
    SpdxTagValue {
        text: String,
        version: SpdxVersion,
    },
}

impl Sniffed {
    fn format(&self) -> SbomFormat {
        match self {
            Sniffed::CdxJson { .. } => SbomFormat::CyclonedxJson,
            Sniffed::CdxXml { .. } => SbomFormat::CyclonedxXml,
            Sniffed::SpdxJson { .. } => SbomFormat::SpdxJson,
            Sniffed::SpdxTagValue { .. } => SbomFormat::SpdxTagValue,
        }
    }
}

/// The syntax family the bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Json,
    Xml,
    TagValue,
    Unknown,
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn syntax_of(bytes: &[u8]) -> Syntax {
    let body = strip_bom(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        // Every JSON SBOM is an object; a leading `[` is more often Markdown than JSON.
        Some(b'{') => Syntax::Json,
        Some(b'<') => Syntax::Xml,
        Some(_) if first_tag_value_line(body).is_some() => Syntax::TagValue,
        _ => Syntax::Unknown,
    }
}

/// The value of a leading `SPDXVersion:` line, skipping blank and `#` comment lines.
fn first_tag_value_line(body: &[u8]) -> Option<&str> {
    let head = body.get(..body.len().min(4096)).unwrap_or_default();
    let head = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The 4 KiB cut may split a character; everything before it is what counts.
        Err(e) => std::str::from_utf8(head.get(..e.valid_up_to())?).ok()?,
    };
    let line = head
        .split(['\n', '\r'])
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    line.strip_prefix("SPDXVersion:").map(str::trim)
}

/// The format a content type names; `None` for absent or generic types that mean "look inside".
fn declared_format(content_type: Option<&str>) -> Result<Option<SbomFormat>, IngestError> {
    let Some(ct) = content_type else {
        return Ok(None);
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match essence.as_str() {
        "application/vnd.cyclonedx+json" => Some(SbomFormat::CyclonedxJson),
        "application/vnd.cyclonedx+xml" => Some(SbomFormat::CyclonedxXml),
        "application/spdx+json" => Some(SbomFormat::SpdxJson),
        "text/spdx" => Some(SbomFormat::SpdxTagValue),
        ""
        | "application/json"
        | "application/xml"
        | "text/xml"
        | "text/plain"
        | "application/octet-stream"
        // What `curl --data-binary` sends unless told otherwise: says nothing about the body.
        | "application/x-www-form-urlencoded" => None,
        _ => {
            return Err(IngestError::UnsupportedFormat {
                message: format!(
                    "content type {essence:?} is not an SBOM format; use \
                     application/vnd.cyclonedx+json, application/vnd.cyclonedx+xml, \
                     application/spdx+json or text/spdx"
                ),
            })
        }
    })
}

fn unsupported(message: impl Into<String>) -> IngestError {
    IngestError::UnsupportedFormat {
        message: message.into(),
    }
}

fn sniff(bytes: &[u8], content_type: Option<&str>) -> Result<Sniffed, IngestError> {
    let declared = declared_format(content_type)?;
    let syntax = syntax_of(bytes);
    let expected = declared.map(|f| match f {
        SbomFormat::CyclonedxJson | SbomFormat::SpdxJson => Syntax::Json,
        SbomFormat::CyclonedxXml => Syntax::Xml,
        SbomFormat::SpdxTagValue => Syntax::TagValue,
    });
    let syntax = match (expected, syntax) {
        (Some(want), got) if want != got => {
            // A declared syntax wins over an unrecognisable body so the parser can say where it
            // breaks; a body that is clearly another syntax contradicts the content type.
            if got == Syntax::Unknown {
                want
            } else {
                return Err(unsupported(format!(
                    "content type {} declares {want:?} but the content is {got:?}",
                    content_type.unwrap_or_default()
                )));
            }
        }
        (_, got) => got,
    };
    let found = match syntax {
        Syntax::Json => sniff_json(bytes, declared)?,
        Syntax::Xml => sniff_xml(bytes)?,
        Syntax::TagValue => sniff_tag_value(bytes)?,
        Syntax::Unknown => return Err(unsupported(
            "not an SBOM: neither JSON, XML nor SPDX tag-value (which starts with SPDXVersion:)",
        )),
    };
    match declared {
        Some(d) if d != found.format() => Err(unsupported(format!(
            "content type {} declares {} but the document is {}",
            content_type.unwrap_or_default(),
            d.content_type(),
            found.format().content_type()
        ))),
        _ => Ok(found),
    }
}

fn sniff_json(bytes: &[u8], declared: Option<SbomFormat>) -> Result<Sniffed, IngestError> {
    let value: Value =
        serde_json::from_slice(strip_bom(bytes)).map_err(|e| IngestError::Malformed {
            message: format!(
                "JSON error at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        })?;
    let Some(obj) = value.as_object() else {
        return Err(unsupported(
            "JSON document is not an object, so not an SBOM",
        ));
    };
    let text_of = |k: &str| obj.get(k).and_then(Value::as_str);
    if obj.contains_key("@context") || obj.contains_key("@graph") {
        return Err(unsupported(
            "JSON-LD document (SPDX 3.0?): SPDX 3 is not supported; send SPDX 2.2/2.3 or CycloneDX",
        ));
    }
    let schema_url = text_of("$schema").unwrap_or_default();
    let cyclonedx = text_of("bomFormat") == Some("CycloneDX")
        || schema_url.contains("cyclonedx.org/schema/bom")
        || (declared == Some(SbomFormat::CyclonedxJson) && !obj.contains_key("spdxVersion"));
    if cyclonedx {
        let named = text_of("specVersion").or_else(|| version_in_schema_url(schema_url));
        let version = match named {
            Some(v) => Some(CdxVersion::parse(v).ok_or_else(|| {
                unsupported(format!(
                    "CycloneDX specVersion {v:?} is not supported (1.2 to 1.7 are)"
                ))
            })?),
            None => None,
        };
        return Ok(Sniffed::CdxJson { value, version });
    }
    if let Some(v) = obj.get("spdxVersion") {
        let v = v.as_str().unwrap_or_default();
        let version = SpdxVersion::parse(v).ok_or_else(|| {
            unsupported(format!(
                "SPDX version {v:?} is not supported (SPDX-2.2 and SPDX-2.3 are)"
            ))
        })?;
        return Ok(Sniffed::SpdxJson { value, version });
    }
    Err(unsupported(
        "JSON document is neither CycloneDX (bomFormat) nor SPDX (spdxVersion)",
    ))
}

/// `1.6` from `http://cyclonedx.org/schema/bom-1.6.schema.json`.
fn version_in_schema_url(url: &str) -> Option<&str> {
    url.rsplit_once("bom-")?.1.strip_suffix(".schema.json")
}

fn sniff_xml(bytes: &[u8]) -> Result<Sniffed, IngestError> {
    let root = xml_guard::check(strip_bom(bytes))?;
    let version = root
        .namespace
        .as_deref()
        .and_then(|ns| ns.strip_prefix(cdx::XML_NAMESPACE_PREFIX));
    match (root.local_name.as_str(), version) {
        ("bom", Some(v)) => CdxVersion::parse(v).map(|version| Sniffed::CdxXml { version }).ok_or_else(|| {
            unsupported(format!("CycloneDX {v} XML is not supported (1.2 to 1.7 are)"))
        }),
        (name, _) => Err(unsupported(format!(
            "XML root <{name}> in namespace {:?} is not a CycloneDX bom (SPDX RDF/XML and SPDX XML are not supported)",
            root.namespace.as_deref().unwrap_or("")
        ))),
    }
}

fn sniff_tag_value(bytes: &[u8]) -> Result<Sniffed, IngestError> {
    let text = spdx::tag_value_text(bytes)?;
    let declared = first_tag_value_line(text.as_bytes()).ok_or_else(|| IngestError::Malformed {
        message: "SPDX tag-value must start with an SPDXVersion: line".to_string(),
    })?;
    let version = SpdxVersion::parse(declared).ok_or_else(|| {
        unsupported(format!(
            "SPDX version {declared:?} is not supported (SPDX-2.2 and SPDX-2.3 are)"
        ))
    })?;
    Ok(Sniffed::SpdxTagValue { text, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDX: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
        "components":[{"type":"library","name":"a","version":"1","purl":"pkg:npm/a@1"}]}"#;
    const SPDX_JSON: &[u8] = br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}"#;

    #[test]
    fn content_types_decide_and_generic_ones_sniff() {
        let cases: [(&[u8], Option<&str>, SbomFormat); 6] = [
            (
                CDX,
                Some("application/vnd.cyclonedx+json; version=1.5"),
                SbomFormat::CyclonedxJson,
            ),
            (CDX, Some("application/json"), SbomFormat::CyclonedxJson),
            (CDX, None, SbomFormat::CyclonedxJson),
            (
                SPDX_JSON,
                Some("Application/SPDX+JSON"),
                SbomFormat::SpdxJson,
            ),
            (
                b"SPDXVersion: SPDX-2.3\n",
                Some("text/plain"),
                SbomFormat::SpdxTagValue,
            ),
            (
                br#"<bom xmlns="http://cyclonedx.org/schema/bom/1.4"/>"#,
                Some("application/octet-stream"),
                SbomFormat::CyclonedxXml,
            ),
        ];
        for (bytes, ct, want) in cases {
            assert_eq!(detect(bytes, ct).unwrap(), want, "{ct:?}");
        }
    }

    #[test]
    fn contradicting_or_foreign_content_types_are_refused() {
        for (bytes, ct) in [
            (CDX, "application/spdx+json"),
            (SPDX_JSON, "application/vnd.cyclonedx+json"),
            (CDX, "application/vnd.cyclonedx+xml"),
            (CDX, "image/png"),
        ] {
            let err = detect(bytes, Some(ct)).unwrap_err();
            assert_eq!(err.status(), 415, "{ct}: {err}");
        }
    }

    #[test]
    fn declared_json_that_does_not_parse_is_malformed_with_position() {
        let err = detect(b"{\"bomFormat\": \"CycloneDX\",\n  oops}", None).unwrap_err();
        assert_eq!(err.code(), "malformed");
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = detect(b"not json at all", Some("application/vnd.cyclonedx+json")).unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
    }

    #[test]
    fn unsupported_versions_and_non_sboms() {
        for bytes in [
            &br#"{"bomFormat":"CycloneDX","specVersion":"1.1"}"#[..],
            br#"{"spdxVersion":"SPDX-2.1"}"#,
            br#"{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[]}"#,
            br#"{"$schema":"http://json-schema.org/draft-07/schema#"}"#,
            br#"<bom xmlns="http://cyclonedx.org/schema/bom/1.1"/>"#,
            b"\x00\x01binary",
            b"",
        ] {
            assert_eq!(detect(bytes, None).unwrap_err().status(), 415);
        }
    }

    #[test]
    fn strictness_decides_between_refusal_and_warnings() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
            "components":[{"type":"library","name":"a"},{"type":"nonsense","name":"b"}]}"#;
        let err = parse(doc, None, &IngestOptions { strict: true }).unwrap_err();
        let IngestError::Invalid { issues } = &err else {
            panic!("{err}")
        };
        assert_eq!(issues[0].path, "/components/1/type");
        assert_eq!(err.status(), 422);
        let lax = parse(doc, None, &IngestOptions { strict: false }).unwrap();
        assert_eq!(lax.components.len(), 2);
        assert_eq!(lax.warnings, *issues);
    }

    #[test]
    fn cyclonedx_without_version_is_invalid() {
        let doc = br#"{"bomFormat":"CycloneDX","version":1}"#;
        let err = parse(doc, None, &IngestOptions { strict: false }).unwrap_err();
        assert_eq!(err.code(), "invalid");
    }

    #[test]
    fn json_nesting_is_bounded() {
        let deep = format!("{}{}", "{\"a\":".repeat(300), "}".repeat(300));
        let err = parse(deep.as_bytes(), None, &IngestOptions::default()).unwrap_err();
        assert_eq!(err.code(), "malformed", "{err}");
    }

    #[test]
    fn spdx_rs_panics_become_invalid() {
        // spdx-rs 0.5.5 hits `todo!()` on an unknown relationship type.
        let doc = b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n\
                    DocumentName: x\nDocumentNamespace: https://example.com/x\n\
                    Creator: Tool: t\nCreated: 2024-01-01T00:00:00Z\n\
                    Relationship: SPDXRef-DOCUMENT NOT_A_TYPE SPDXRef-x\n";
        let err = parse(doc, None, &IngestOptions::default()).unwrap_err();
        assert_eq!(err.status(), 422, "{err}");
    }

    #[test]
    fn schema_url_gives_the_version() {
        assert_eq!(
            version_in_schema_url("http://cyclonedx.org/schema/bom-1.6.schema.json"),
            Some("1.6")
        );
        assert_eq!(version_in_schema_url("http://example.com/x.json"), None);
    }
}
