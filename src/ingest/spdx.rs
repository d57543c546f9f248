//! SPDX 2.2/2.3: the normaliser from an SPDX JSON `Value` to soupwatch's component model, the
//! spelling fixes applied before schema validation, and the tag-value path (`spdx-rs` parses it,
//! its model is serialised to SPDX JSON field names and goes through the same normaliser).

use super::{text, Extracted, IngestError, Item};
use crate::model::{Component, Hash, ValidationIssue};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// An SPDX version soupwatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpdxVersion {
    V2_2,
    V2_3,
}

impl SpdxVersion {
    /// From `SPDX-2.3` as written in `spdxVersion` / `SPDXVersion:`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "SPDX-2.2" => Some(Self::V2_2),
            "SPDX-2.3" => Some(Self::V2_3),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::V2_2 => "2.2",
            Self::V2_3 => "2.3",
        }
    }

    pub(crate) fn schema(self) -> super::schema::Schema {
        match self {
            Self::V2_2 => super::schema::Schema::Spdx22,
            Self::V2_3 => super::schema::Schema::Spdx23,
        }
    }
}

/// Rewrites spellings that real tools emit and the JSON schema refuses although the SPDX spec
/// text uses them: `primaryPackagePurpose: OPERATING-SYSTEM` (spec 2.3 §7.24 and trivy/syft)
/// against the schema's `OPERATING_SYSTEM` (see anchore/syft#3012). Hyphens become
/// underscores, which is exactly the schema's spelling of every purpose.
pub(crate) fn canonicalise_spellings(doc: &mut Value) {
    let Some(packages) = doc.get_mut("packages").and_then(Value::as_array_mut) else {
        return;
    };
    for p in packages {
        if let Some(Value::String(purpose)) = p.get_mut("primaryPackagePurpose") {
            if purpose.contains('-') {
                *purpose = purpose.replace('-', "_");
            }
        }
    }
}

/// Relationship types that make an edge "A depends on B", and whether the document writes it
/// the other way round (`B DEPENDENCY_OF A`). `CONTAINS` counts because NTIA defines the
/// dependency relationship as inclusion ("X is included in Y"); links count as dependencies.
/// `DESCRIBES`, `GENERATED_FROM`, `VARIANT_OF`, `*_TOOL_OF`, `COPY_OF` and the rest do not.
fn edge_direction(relationship: &str) -> Option<bool> {
    match relationship {
        "DEPENDS_ON" | "CONTAINS" | "STATIC_LINK" | "DYNAMIC_LINK" => Some(false),
        "DEPENDENCY_OF"
        | "CONTAINED_BY"
        | "BUILD_DEPENDENCY_OF"
        | "DEV_DEPENDENCY_OF"
        | "OPTIONAL_DEPENDENCY_OF"
        | "PROVIDED_DEPENDENCY_OF"
        | "TEST_DEPENDENCY_OF"
        | "RUNTIME_DEPENDENCY_OF" => Some(true),
        _ => None,
    }
}

/// Normalises an SPDX 2.x JSON document. Packages are components, files and snippets are not;
/// the packages the document DESCRIBES are its subject.
pub(crate) fn normalise(doc: &Value, spec_version: &str) -> Extracted {
    let packages: Vec<&Value> = doc
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.is_object())
        .collect();
    let package_ids: HashSet<&str> = packages.iter().filter_map(|p| text(p, "SPDXID")).collect();
    let document_id = text(doc, "SPDXID").unwrap_or("SPDXRef-DOCUMENT");

    let mut described: HashSet<&str> = strings(doc.get("documentDescribes")).collect();
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in doc
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(a), Some(kind), Some(b)) = (
            text(r, "spdxElementId"),
            text(r, "relationshipType"),
            text(r, "relatedSpdxElement"),
        ) else {
            continue;
        };
        match kind {
            "DESCRIBES" if a == document_id => {
                described.insert(b);
            }
            "DESCRIBED_BY" if b == document_id => {
                described.insert(a);
            }
            _ => {
                if let Some(reversed) = edge_direction(kind) {
                    let (from, to) = if reversed { (b, a) } else { (a, b) };
                    // Edges to files, snippets or other documents are not component edges.
                    if package_ids.contains(from) && package_ids.contains(to) {
                        let targets = edges.entry(from).or_default();
                        if !targets.contains(&to) {
                            targets.push(to);
                        }
                    }
                }
            }
        }
    }

    let mut subject = Vec::new();
    let mut components = Vec::new();
    for p in packages {
        let item = package(p, &edges);
        let id = text(p, "SPDXID").unwrap_or_default();
        if described.contains(id) {
            subject.push(item);
        } else {
            components.push(item);
        }
    }

    let creation = doc.get("creationInfo");
    Extracted {
        spec_version: spec_version.to_string(),
        subject,
        components,
        authors: strings(creation.and_then(|c| c.get("creators")))
            .map(str::to_string)
            .collect(),
        timestamp: creation
            .and_then(|c| text(c, "created"))
            .map(str::to_string),
    }
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `NOASSERTION` and `NONE` say "no value" in SPDX.
fn asserted(v: Option<&str>) -> Option<&str> {
    v.map(str::trim)
        .filter(|s| !s.is_empty() && *s != "NOASSERTION" && *s != "NONE")
}

fn package(p: &Value, edges: &HashMap<&str, Vec<&str>>) -> Item {
    let refs: Vec<(&str, &str)> = p
        .get("externalRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| Some((text(r, "referenceType")?, text(r, "referenceLocator")?)))
        .collect();
    let reference = |kind: &str| {
        refs.iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(kind))
            .map(|(_, l)| l.to_string())
    };
    let id = text(p, "SPDXID");
    let mut licenses: Vec<String> = Vec::new();
    for key in ["licenseConcluded", "licenseDeclared"] {
        if let Some(l) = asserted(text(p, key)) {
            if !licenses.iter().any(|x| x == l) {
                licenses.push(l.to_string());
            }
        }
    }
    let component = Component {
        bom_ref: id.map(str::to_string),
        name: text(p, "name").unwrap_or_default().to_string(),
        version: asserted(text(p, "versionInfo")).map(str::to_string),
        group: None,
        purl: reference("purl"),
        // CPE 2.2 only when the package has no CPE 2.3 name.
        cpe: reference("cpe23Type").or_else(|| reference("cpe22Type")),
        supplier: supplier(text(p, "supplier")),
        hashes: p
            .get("checksums")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(Hash {
                    alg: text(c, "algorithm")?.to_string(),
                    value: text(c, "checksumValue")?.to_ascii_lowercase(),
                })
            })
            .collect(),
        licenses,
        scope: None,
        kind: text(p, "primaryPackagePurpose").map(|k| k.to_ascii_lowercase().replace('_', "-")),
        depends_on: id
            .and_then(|i| edges.get(i))
            .map(|t| t.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    };
    Item {
        component,
        swid: refs.iter().any(|(t, _)| t.eq_ignore_ascii_case("swid")),
    }
}

/// `Organization: ACME Inc.` -> `ACME Inc.`, `Person: Jane` -> `Jane`, `NOASSERTION` -> none.
fn supplier(s: Option<&str>) -> Option<String> {
    let s = asserted(s)?;
    let name = ["Organization:", "Person:"]
        .iter()
        .find_map(|prefix| s.strip_prefix(prefix))
        .unwrap_or(s)
        .trim();
    asserted(Some(name)).map(str::to_string)
}

/// Tag-value text: UTF-8, byte-order mark dropped, every line ending (CRLF, and the lone CR of
/// some in-the-wild files) turned into LF, which is all `spdx-rs`'s parser understands.
pub(crate) fn tag_value_text(bytes: &[u8]) -> Result<String, IngestError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        IngestError::Malformed {
            message: format!(
                "SPDX tag-value is not UTF-8 (line {line}, byte {})",
                e.valid_up_to()
            ),
        }
    })?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Parses tag-value (already through [`tag_value_text`]) into SPDX JSON, plus the problems found
/// on the way: mandatory tags missing (`spdx-rs` fills them with defaults silently) and tags
/// unknown to SPDX 2.3.
pub(crate) fn tag_value_to_json(text: &str) -> Result<(Value, Vec<ValidationIssue>), IngestError> {
    let Prepared { text, issues } = prepare(text);
    // spdx-rs 0.5.5 panics (`todo!`, `unimplemented!`, `unwrap`) on unknown tags, relationship
    // types, checksum algorithms, file types and on unparsable licence expressions. `prepare`
    // removes the unknown tags; the rest is caught here and reported as an invalid document.
    // The default panic hook still prints those to stderr (and spdx-rs `dbg!`s some values).
    let parsed = std::panic::catch_unwind(|| spdx_rs::parsers::spdx_from_tag_value(&text))
        .map_err(|_| IngestError::Invalid {
            issues: vec![ValidationIssue {
                path: String::new(),
                message: "SPDX tag-value refused by the parser: an unknown relationship type, \
                          checksum algorithm, file type or annotation type, an unparsable \
                          licence expression, or no document creation information"
                    .to_string(),
            }],
        })?;
    let doc = parsed.map_err(|e| match e {
        spdx_rs::error::SpdxError::TagValueParse(message) => IngestError::Malformed {
            message: format!("SPDX tag-value could not be parsed: {message}"),
        },
        other => IngestError::Invalid {
            issues: vec![ValidationIssue {
                path: String::new(),
                message: format!("SPDX tag-value has an invalid value: {other}"),
            }],
        },
    })?;
    let value = serde_json::to_value(&doc).map_err(|e| IngestError::Invalid {
        issues: vec![ValidationIssue {
            path: String::new(),
            message: format!("SPDX tag-value could not be converted: {e}"),
        }],
    })?;
    Ok((value, issues))
}

/// Every tag `spdx-rs` 0.5.5 knows (its `tag_value::tag_value_to_atom`); it panics on others.
const SPDX_RS_TAGS: &[&str] = &[
    "SPDXVersion",
    "DataLicense",
    "SPDXID",
    "DocumentName",
    "DocumentNamespace",
    "ExternalDocumentRef",
    "LicenseListVersion",
    "Creator",
    "Created",
    "CreatorComment",
    "DocumentComment",
    "PackageName",
    "PackageVersion",
    "PackageFileName",
    "PackageSupplier",
    "PackageOriginator",
    "PackageDownloadLocation",
    "FilesAnalyzed",
    "PackageVerificationCode",
    "PackageChecksum",
    "PackageHomePage",
    "PackageSourceInfo",
    "PackageLicenseConcluded",
    "PackageLicenseInfoFromFiles",
    "PackageLicenseDeclared",
    "PackageLicenseComments",
    "PackageCopyrightText",
    "PackageSummary",
    "PackageDescription",
    "PackageComment",
    "ExternalRef",
    "ExternalRefComment",
    "PackageAttributionText",
    "PrimaryPackagePurpose",
    "BuiltDate",
    "ReleaseDate",
    "ValidUntilDate",
    "FileName",
    "FileType",
    "FileChecksum",
    "LicenseConcluded",
    "LicenseInfoInFile",
    "LicenseComments",
    "FileCopyrightText",
    "FileComment",
    "FileNotice",
    "FileContributor",
    "FileAttributionText",
    "SnippetSPDXID",
    "SnippetFromFileSPDXID",
    "SnippetByteRange",
    "SnippetLineRange",
    "SnippetLicenseConcluded",
    "LicenseInfoInSnippet",
    "SnippetLicenseComments",
    "SnippetCopyrightText",
    "SnippetComment",
    "SnippetName",
    "SnippetAttributionText",
    "LicenseID",
    "ExtractedText",
    "LicenseName",
    "LicenseCrossReference",
    "LicenseComment",
    "Relationship",
    "RelationshipComment",
    "Annotator",
    "AnnotationDate",
    "AnnotationType",
    "SPDXREF",
    "AnnotationComment",
];

const DOCUMENT_TAGS: [&str; 6] = [
    "SPDXVersion",
    "DataLicense",
    "DocumentName",
    "DocumentNamespace",
    "Creator",
    "Created",
];

/// Tags that open a new section of a tag-value document.
fn opens_section(tag: &str) -> bool {
    matches!(
        tag,
        "PackageName" | "FileName" | "SnippetSPDXID" | "LicenseID"
    )
}

/// Tag-value text made safe for `spdx-rs`, and the problems found while doing so.
struct Prepared {
    text: String,
    issues: Vec<ValidationIssue>,
}

/// One pass over the lines (multi-line `<text>` values skipped as a unit): drops tags unknown
/// to `spdx-rs` (reported), spells ExternalRef categories the way `spdx-rs` expects (the JSON
/// schemas accept `PACKAGE_MANAGER` and `PACKAGE-MANAGER` alike, so that is not reported), and
/// reports missing mandatory tags of SPDX 2.2/2.3: document creation info, and each package's
/// SPDXID and PackageDownloadLocation, as `line N` of the section that lacks them.
fn prepare(text: &str) -> Prepared {
    struct Package {
        line: usize,
        id: bool,
        download: bool,
    }
    fn close(p: Option<Package>, issues: &mut Vec<ValidationIssue>) {
        let Some(p) = p else { return };
        for (present, tag) in [(p.id, "SPDXID"), (p.download, "PackageDownloadLocation")] {
            if !present {
                issues.push(ValidationIssue {
                    path: format!("line {}", p.line),
                    message: format!("package lacks mandatory tag {tag}"),
                });
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut issues = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut document_id = false;
    let mut in_section = false;
    let mut package: Option<Package> = None;
    let mut in_text = false;
    let mut dropping = false;
    for (index, line) in text.lines().enumerate() {
        if in_text {
            in_text = !line.contains("</text>");
            if !dropping {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        dropping = false;
        let Some((tag, value)) = line
            .split_once(':')
            .filter(|(t, _)| !t.trim_start().starts_with('#'))
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let tag = tag.trim();
        in_text = value.contains("<text>") && !value.contains("</text>");
        if !SPDX_RS_TAGS.contains(&tag) {
            issues.push(ValidationIssue {
                path: format!("line {}", index + 1),
                message: format!("unknown tag {tag:?} ignored"),
            });
            dropping = true;
            continue;
        }
        if opens_section(tag) {
            in_section = true;
            close(package.take(), &mut issues);
            if tag == "PackageName" {
                package = Some(Package {
                    line: index + 1,
                    id: false,
                    download: false,
                });
            }
        }
        match (tag, package.as_mut()) {
            ("SPDXID", Some(p)) => p.id = true,
            ("PackageDownloadLocation", Some(p)) => p.download = true,
            ("SPDXID", None) if !in_section => document_id = true,
            _ => {}
        }
        seen.insert(tag);
        let category_fix = [
            ("PACKAGE_MANAGER", "PACKAGE-MANAGER"),
            ("PERSISTENT_ID", "PERSISTENT-ID"),
        ]
        .into_iter()
        .find_map(|(from, to)| Some((to, value.trim_start().strip_prefix(from)?)));
        match category_fix {
            Some((to, rest)) if tag == "ExternalRef" => {
                out.push_str("ExternalRef: ");
                out.push_str(to);
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    close(package.take(), &mut issues);
    let mut missing: Vec<&str> = DOCUMENT_TAGS
        .iter()
        .copied()
        .filter(|t| !seen.contains(t))
        .collect();
    if !document_id {
        missing.push("SPDXID");
    }
    issues.extend(missing.into_iter().map(|tag| ValidationIssue {
        path: "line 1".to_string(),
        message: format!("document lacks mandatory tag {tag}"),
    }));
    Prepared { text: out, issues }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subject_edges_and_fields() {
        let doc = json!({
            "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
            "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: syft-1.0"]},
            "packages": [
                {"SPDXID": "SPDXRef-img", "name": "img"},
                {"SPDXID": "SPDXRef-a", "name": "a", "versionInfo": "1.0",
                 "supplier": "Organization: ACME Inc.", "licenseConcluded": "NOASSERTION",
                 "licenseDeclared": "MIT", "primaryPackagePurpose": "OPERATING_SYSTEM",
                 "checksums": [{"algorithm": "SHA1", "checksumValue": "AB"}],
                 "externalRefs": [
                    {"referenceCategory": "SECURITY", "referenceType": "cpe22Type", "referenceLocator": "cpe:/a:acme:a:1.0"},
                    {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:acme:a:1.0:*:*:*:*:*:*:*"},
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:deb/debian/a@1.0"}]},
                {"SPDXID": "SPDXRef-b", "name": "b", "supplier": "NOASSERTION"}
            ],
            "files": [{"SPDXID": "SPDXRef-f", "fileName": "./x"}],
            "relationships": [
                {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-img"},
                {"spdxElementId": "SPDXRef-img", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-a"},
                {"spdxElementId": "SPDXRef-b", "relationshipType": "DEPENDENCY_OF", "relatedSpdxElement": "SPDXRef-a"},
                {"spdxElementId": "SPDXRef-a", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-f"},
                {"spdxElementId": "SPDXRef-a", "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "SPDXRef-b"}
            ]
        });
        let ex = normalise(&doc, "2.3");
        assert_eq!(ex.subject.len(), 1);
        assert_eq!(ex.subject[0].component.depends_on, ["SPDXRef-a"]);
        assert_eq!(ex.components.len(), 2);
        let a = &ex.components[0].component;
        assert_eq!(a.supplier.as_deref(), Some("ACME Inc."));
        assert_eq!(a.cpe.as_deref(), Some("cpe:2.3:a:acme:a:1.0:*:*:*:*:*:*:*"));
        assert_eq!(a.purl.as_deref(), Some("pkg:deb/debian/a@1.0"));
        assert_eq!(a.licenses, ["MIT"]);
        assert_eq!(a.kind.as_deref(), Some("operating-system"));
        assert_eq!(a.depends_on, ["SPDXRef-b"]);
        assert_eq!(a.hashes[0].value, "ab");
        assert_eq!(ex.components[1].component.supplier, None);
        assert_eq!(ex.authors, ["Tool: syft-1.0"]);
    }

    #[test]
    fn canonicalises_operating_system_spelling() {
        let mut doc = json!({"packages": [{"primaryPackagePurpose": "OPERATING-SYSTEM"}]});
        canonicalise_spellings(&mut doc);
        assert_eq!(
            doc["packages"][0]["primaryPackagePurpose"],
            "OPERATING_SYSTEM"
        );
    }

    #[test]
    fn reports_missing_mandatory_tags_by_line() {
        let text = "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n\
                    DocumentName: x\nCreator: Tool: t\nCreated: 2024-01-01T00:00:00Z\n\
                    PackageComment: <text>multi\nPackageName: not a tag here\n</text>\n\
                    PackageName: a\nSPDXID: SPDXRef-a\n";
        let issues = prepare(text).issues;
        let found: Vec<_> = issues
            .iter()
            .map(|i| (i.path.as_str(), i.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "line 10",
                    "package lacks mandatory tag PackageDownloadLocation"
                ),
                ("line 1", "document lacks mandatory tag DocumentNamespace"),
            ]
        );
    }

    #[test]
    fn prepares_text_for_spdx_rs() {
        let text = "SPDXVersion: SPDX-2.3\nFancyTag: <text>a\nb</text>\n\
                    ExternalRef: PACKAGE_MANAGER purl pkg:npm/PACKAGE_MANAGER@1\n# note: x\n";
        let prepared = prepare(text);
        assert_eq!(
            prepared.text,
            "SPDXVersion: SPDX-2.3\nExternalRef: PACKAGE-MANAGER purl pkg:npm/PACKAGE_MANAGER@1\n# note: x\n"
        );
        assert_eq!(prepared.issues[0].path, "line 2");
        assert!(prepared.issues[0].message.contains("FancyTag"));
    }

    #[test]
    fn lone_carriage_returns_become_newlines() {
        assert_eq!(
            tag_value_text(b"\xEF\xBB\xBFa: 1\rb: 2\r\n").unwrap(),
            "a: 1\nb: 2\n"
        );
        assert!(matches!(
            tag_value_text(b"a\n\xFF"),
            Err(IngestError::Malformed { .. })
        ));
    }
}
