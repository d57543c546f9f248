//! XML safety gate, run before any XML parser builds a model: refuses DTDs and entity
//! declarations (no external entities, no entity expansion bombs), bounds element nesting, checks
//! well-formedness with a streaming xml-rs pass, and reports the root element so the caller can
//! tell a CycloneDX `<bom>` from SPDX RDF/XML, SPDX XML or an XSD.

use super::IngestError;
use xml::common::Position;
use xml::reader::{ParserConfig, XmlEvent};

/// Deepest element nesting accepted. Real CycloneDX XML stays well under 20 levels (nested
/// components add two per level), so 64 leaves room and still caps the parser's stack use.
pub(crate) const MAX_XML_DEPTH: usize = 64;

/// The document element of a well-formed, DTD-free XML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlRoot {
    pub local_name: String,
    pub namespace: Option<String>,
}

/// Refuses DTDs and entity declarations, then streams the whole document once to check
/// well-formedness and depth. Returns the root element.
pub(crate) fn check(bytes: &[u8]) -> Result<XmlRoot, IngestError> {
    // A plain byte scan, so a DTD is refused even where xml-rs would tolerate it. It can refuse
    // a document that merely mentions `<!DOCTYPE` in a comment; that is the safe side.
    for marker in [b"<!doctype".as_slice(), b"<!entity".as_slice()] {
        if contains_ignore_ascii_case(bytes, marker) {
            return Err(IngestError::Malformed {
                message: "XML documents with a DTD or entity declarations are refused \
                          (no DTDs, external entities or entity expansion)"
                    .to_string(),
            });
        }
    }
    let reader = ParserConfig::new()
        .replace_unknown_entity_references(true)
        .create_reader(bytes);
    let mut depth = 0usize;
    let mut root: Option<XmlRoot> = None;
    for event in reader {
        let event = event.map_err(|e| {
            let pos = e.position();
            IngestError::Malformed {
                message: format!(
                    "XML not well-formed at line {}, column {}: {}",
                    pos.row + 1,
                    pos.column + 1,
                    e.msg()
                ),
            }
        })?;
        match event {
            XmlEvent::StartElement { name, .. } => {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(IngestError::Malformed {
                        message: format!("XML nesting deeper than {MAX_XML_DEPTH} elements"),
                    });
                }
                if root.is_none() {
                    root = Some(XmlRoot {
                        local_name: name.local_name,
                        namespace: name.namespace,
                    });
                }
            }
            XmlEvent::EndElement { .. } => depth = depth.saturating_sub(1),
            XmlEvent::EndDocument => break,
            _ => {}
        }
    }
    root.ok_or_else(|| IngestError::Malformed {
        message: "XML document has no root element".to_string(),
    })
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtd_and_entities() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><bom>&lol2;</bom>"#;
        assert!(matches!(check(bomb), Err(IngestError::Malformed { .. })));
        let xxe = br#"<?xml version="1.0"?><!doctype bom SYSTEM "file:///etc/passwd"><bom/>"#;
        assert!(matches!(check(xxe), Err(IngestError::Malformed { .. })));
    }

    #[test]
    fn bounds_depth() {
        let deep = format!("{}{}", "<a>".repeat(65), "</a>".repeat(65));
        let err = check(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("deeper"), "{err}");
        let ok = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
        assert_eq!(check(ok.as_bytes()).unwrap().local_name, "a");
    }

    #[test]
    fn reports_position_of_syntax_errors() {
        let err = check(b"<bom>\n  <component>\n</bom>").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn returns_root_namespace() {
        let root =
            check(br#"<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"/>"#).unwrap();
        assert_eq!(root.local_name, "bom");
        assert_eq!(
            root.namespace.as_deref(),
            Some("http://cyclonedx.org/schema/bom/1.5")
        );
    }
}
