//! Every file of the shared SBOM corpus through `detect` + `parse`, with component counts
//! computed independently from the raw documents, plus no-panic tests on random, truncated and
//! mutated real input.

use super::*;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sbom")
}

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

/// What the corpus READMEs say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Sbom,
    Malformed,
    InvalidVector,
    NotSbom,
}

fn expectation(rel: &str) -> Expect {
    let name = rel.rsplit('/').next().unwrap();
    if name == "powershell-2.2.6.spdx.json" {
        // bom-shelter README: web-page text follows the closing brace.
        Expect::Malformed
    } else if name == "bashrc2-sbom-cdx.json" {
        // Named -cdx, but it is a SCANOSS scan result: no bomFormat, no spdxVersion.
        Expect::NotSbom
    } else if name.starts_with("invalid-") {
        Expect::InvalidVector
    } else if rel.contains("specification-schema/")
        || rel.contains("/schemas/")
        || rel.contains("spdx3.0/")
        || rel.contains("v3.0-main/")
        || name.ends_with(".spdx3.json")
        || name.ends_with(".yaml")
        || name.ends_with(".rdf.xml")
        || name.ends_with(".spdx.xml")
        || name.ends_with(".md")
        || name.ends_with(".csv")
        || name == "LICENSE"
        // CycloneDX 1.1: XML only and before dependencies; not read (415).
        || name == "bom.1.1.xml"
    {
        Expect::NotSbom
    } else {
        Expect::Sbom
    }
}

/// Real files refused in strict mode, each checked by hand against its schema. All are accepted
/// with warnings when lax.
const KNOWN_INVALID_REAL: &[&str] = &[
    // trivy SPDX 2.2: packages lack copyrightText/downloadLocation (mandatory in 2.2), files lack
    // checksums/copyrightText/licenseConcluded/licenseInfoInFiles, and two use the relationship
    // type "DESCRIBE" (sic).
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-airbyte_db-sha256:6bae026aec80ce8dbc62e9c42665b8a60694d59fc10a893e010cbad870d0986e.json",
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-amazon_aws-otel-collector-sha256:539b3372e983c99135e71cffb3592782fa3b1cffde67e827f441484346123f8d.json",
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-atlassian_pipelines-kubectl-sha256:958f5a1c1e5d6599074abf64830c4a3c4b60930d451b8ce25184126c3d4cf494.json",
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-bitnami_jupyter-base-notebook-sha256:b94f8cd9cc2bad69466d25968076a0030e858bdd20f32444545f41b5eb4c79b4.json",
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-bitnami_kafka-sha256:8ed09dd08e903fcd1e15ed95d5e29d463968fe4cfb7b9719cef511dac71120ed.json",
    "bom-shelter/in-the-lab/spdx-popular-containers/data/spdx-trivy-ibmcom_microclimate-theia-sha256:e17bdccc50301bcaef57f32333d00f7e44f4549695d4d5f9246c508843bc590e.json",
    // CycloneDX 1.2: licences given by url only (id or name required), "NOASSERTION" as an SPDX
    // id, and descriptions with newlines against the schema's `^(.*)$` pattern.
    "bom-shelter/in-the-wild/cyclonedx/obsidian-sailboat-sbom-cdx.json",
    // CycloneDX 1.4: scp-style `git@github.com:x/y.git` is not an iri-reference.
    "bom-shelter/in-the-wild/cyclonedx/redis-commander-sbom-cdx.json",
    // SPDX 2.2: packages lack copyrightText.
    "bom-shelter/in-the-wild/spdx/chronicle-sbom.spdx.json",
    // SPDX 2.2 tag-value without the mandatory Created tag.
    "bom-shelter/in-the-wild/spdx/fatbom-sbom.spdx",
    // SPDX 2.2 (Flux): lower-case "sha256", files with `name` instead of `fileName`, no
    // copyrightText/licenseInfoInFiles.
    "bom-shelter/in-the-wild/spdx/flagger_1.18.0_sbom.spdx.json",
    "bom-shelter/in-the-wild/spdx/flux_0.26.3_sbom.spdx.json",
    // SPDX 2.2: files write `licenseInfoInFile` for `licenseInfoInFiles`.
    "bom-shelter/in-the-wild/spdx/powershell.spdx.json",
    "bom-shelter/in-the-wild/spdx/source-controller_0.21.2_sbom.spdx.json",
    // SPDX 2.2 tag-value: packages without SPDXID and PackageDownloadLocation, and the tag
    // `FIleCopyrightText` (sic).
    "bom-shelter/in-the-wild/spdx/vast-sbom.spdx",
];

/// Components in a CycloneDX JSON document: every object in a `components` array under the
/// root or under `metadata.component`, at any depth, except repeats of the subject.
fn count_cdx_json(doc: &Value) -> usize {
    fn walk(v: &Value, subject: Option<&str>) -> usize {
        v.get("components")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| {
                        let own = usize::from(
                            subject.is_none()
                                || c.get("bom-ref").and_then(Value::as_str) != subject,
                        );
                        own + walk(c, subject)
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    let subject = doc.pointer("/metadata/component");
    let subject_ref = subject
        .and_then(|s| s.get("bom-ref"))
        .and_then(Value::as_str);
    walk(doc, subject_ref) + subject.map_or(0, |s| walk(s, subject_ref))
}

/// Components in CycloneDX XML: `<component>` elements on a bom/components/component... or
/// bom/metadata/component/components/component... path (not tools, formulation, etc.).
fn count_cdx_xml(bytes: &[u8]) -> usize {
    use xml::reader::{EventReader, XmlEvent};
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut subject_ref: Option<String> = None;
    let mut repeats = 0;
    for event in EventReader::new(bytes) {
        match event.unwrap() {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                stack.push(name.local_name.clone());
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                let bom_ref = attributes
                    .iter()
                    .find(|a| a.name.local_name == "bom-ref")
                    .map(|a| a.value.clone());
                if path == ["bom", "metadata", "component"] {
                    subject_ref = bom_ref;
                } else if name.local_name == "component" && on_component_path(&path) {
                    count += 1;
                    if bom_ref.is_some() && bom_ref == subject_ref {
                        repeats += 1;
                    }
                }
            }
            XmlEvent::EndElement { .. } => {
                stack.pop();
            }
            _ => {}
        }
    }
    count - repeats
}

fn on_component_path(path: &[&str]) -> bool {
    let rest = match path {
        ["bom", "components", rest @ ..] => rest,
        ["bom", "metadata", "component", "components", rest @ ..] => rest,
        _ => return false,
    };
    // rest = component (components component)*
    rest.len() % 2 == 1
        && rest.iter().enumerate().all(|(i, n)| {
            *n == if i % 2 == 0 {
                "component"
            } else {
                "components"
            }
        })
}

fn count_spdx_json(doc: &Value) -> usize {
    let packages = doc["packages"].as_array().map_or(&[][..], Vec::as_slice);
    let mut described: HashSet<&str> = doc["documentDescribes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for r in doc["relationships"].as_array().into_iter().flatten() {
        if r["spdxElementId"] == "SPDXRef-DOCUMENT" && r["relationshipType"] == "DESCRIBES" {
            described.insert(r["relatedSpdxElement"].as_str().unwrap());
        }
    }
    packages
        .iter()
        .filter(|p| !described.contains(p["SPDXID"].as_str().unwrap()))
        .count()
}

fn count_spdx_tag_value(text: &str) -> usize {
    let lines: Vec<&str> = text.split(['\n', '\r']).map(str::trim).collect();
    let mut ids = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("PackageName:") {
            // The package's SPDXID, if it has one before the next section starts.
            let id = lines[i + 1..]
                .iter()
                .take_while(|l| {
                    !["PackageName:", "FileName:", "SnippetSPDXID:", "LicenseID:"]
                        .iter()
                        .any(|t| l.starts_with(t))
                })
                .find_map(|l| l.strip_prefix("SPDXID:"))
                .map(str::trim);
            ids.push(id);
        }
    }
    let described: HashSet<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Relationship:"))
        .filter_map(|r| {
            let parts: Vec<&str> = r.split_whitespace().collect();
            (parts.len() == 3 && parts[0] == "SPDXRef-DOCUMENT" && parts[1] == "DESCRIBES")
                .then(|| parts[2])
        })
        .collect();
    ids.iter()
        .filter(|id| id.is_none_or(|id| !described.contains(id)))
        .count()
}

fn independent_count(format: SbomFormat, bytes: &[u8]) -> usize {
    match format {
        SbomFormat::CyclonedxJson => count_cdx_json(&serde_json::from_slice(bytes).unwrap()),
        SbomFormat::SpdxJson => count_spdx_json(&serde_json::from_slice(bytes).unwrap()),
        SbomFormat::CyclonedxXml => count_cdx_xml(bytes),
        SbomFormat::SpdxTagValue => count_spdx_tag_value(std::str::from_utf8(bytes).unwrap()),
    }
}

// One test per top folder, so the harness runs them in parallel.
#[test]
fn corpus_cyclonedx() {
    run_corpus("cyclonedx", 100);
}

#[test]
fn corpus_spdx() {
    run_corpus("spdx", 60);
}

#[test]
fn corpus_bom_shelter() {
    run_corpus("bom-shelter", 45);
}

/// Runs every file under `sbom/<folder>` and prints how many ended in each outcome.
fn run_corpus(folder: &str, at_least: usize) {
    let root = corpus();
    let mut paths = Vec::new();
    files(&root.join(folder), &mut paths);
    paths.sort();
    assert!(paths.len() >= at_least, "corpus missing? {}", paths.len());
    let strict = IngestOptions { strict: true };
    let lax = IngestOptions { strict: false };
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut invalid_real = Vec::new();
    let mut components_total = 0;
    for path in &paths {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let expect = expectation(&rel);
        let outcome = match (expect, parse(&bytes, None, &strict)) {
            (Expect::Sbom, Ok(sbom)) => {
                let want = independent_count(sbom.format, &bytes);
                assert_eq!(sbom.components.len(), want, "{rel}: component count");
                assert!(sbom.warnings.is_empty(), "{rel}");
                components_total += want;
                format!("accepted {:?}", sbom.format)
            }
            (Expect::Sbom, Err(IngestError::Invalid { issues })) => {
                let sbom = parse(&bytes, None, &lax)
                    .unwrap_or_else(|e| panic!("{rel}: refused even when lax: {e}"));
                assert_eq!(sbom.warnings, issues, "{rel}");
                let want = independent_count(sbom.format, &bytes);
                assert_eq!(sbom.components.len(), want, "{rel}: component count (lax)");
                eprintln!(
                    "INVALID real file {rel}: {} issue(s), e.g. {:?}",
                    issues.len(),
                    issues.first()
                );
                invalid_real.push(rel.clone());
                "real but invalid: accepted only when lax".to_string()
            }
            (Expect::Malformed, Err(e)) if e.status() == 400 => "refused 400 malformed".into(),
            (Expect::InvalidVector, Err(e)) if e.status() == 422 => {
                // Lax mode accepts a well-formed invalid document.
                let lax_result = parse(&bytes, Some("application/vnd.cyclonedx+json"), &lax);
                assert!(lax_result.is_ok(), "{rel}: {:?}", lax_result.err());
                "refused 422 invalid vector".into()
            }
            (Expect::NotSbom, Err(e)) if e.status() == 415 => {
                assert_eq!(detect(&bytes, None).unwrap_err().status(), 415, "{rel}");
                "refused 415 not an SBOM we read".into()
            }
            (expect, got) => panic!(
                "{rel}: expected {expect:?}, got {:?}",
                got.map(|s| s.format)
            ),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!(
        "SBOM corpus {folder}/: {} files, {components_total} components in accepted SBOMs",
        paths.len()
    );
    for (outcome, n) in &outcomes {
        eprintln!("  {n:4}  {outcome}");
    }
    let known: Vec<&str> = KNOWN_INVALID_REAL
        .iter()
        .copied()
        .filter(|f| f.starts_with(&format!("{folder}/")))
        .collect();
    assert_eq!(invalid_real, known);
}

#[test]
fn invalid_vectors_list_their_issue_paths() {
    let dir = corpus().join("cyclonedx/specification-examples/1.6");
    let strict = IngestOptions { strict: true };
    let bytes = std::fs::read(dir.join("invalid-component-type-1.6.json")).unwrap();
    let Err(IngestError::Invalid { issues }) = parse(&bytes, None, &strict) else {
        panic!("accepted")
    };
    assert!(
        issues.iter().any(|i| i.path == "/components/0/type"),
        "{issues:?}"
    );
    let bytes = std::fs::read(dir.join("invalid-bomformat-1.6.json")).unwrap();
    let Err(IngestError::Invalid { issues }) = parse(&bytes, None, &strict) else {
        panic!("accepted")
    };
    assert!(issues.iter().any(|i| i.path == "/bomFormat"), "{issues:?}");
}

#[test]
fn json_and_xml_renderings_agree() {
    let dir = corpus().join("cyclonedx/bom-examples/SBOM");
    let opts = IngestOptions { strict: false };
    let load = |p: &str| parse(&std::fs::read(dir.join(p)).unwrap(), None, &opts).unwrap();
    // The laravel renderings carry the same data: everything must agree.
    for v in ["1.2", "1.3", "1.4"] {
        let (j, x) = (
            load(&format!("laravel-7.12.0/bom.{v}.json")),
            load(&format!("laravel-7.12.0/bom.{v}.xml")),
        );
        assert!(!j.components.is_empty());
        assert_eq!(j.components, x.components, "laravel {v}");
        assert_eq!(j.subject, x.subject, "laravel {v}");
    }
    // Other pairs differ in details (dropwizard's JSON has licences and no scopes its XML
    // lacks); identities and hashes must still agree.
    let identity = |s: &ParsedSbom| -> Vec<Component> {
        s.components
            .iter()
            .map(|c| Component {
                bom_ref: c.bom_ref.clone(),
                name: c.name.clone(),
                version: c.version.clone(),
                purl: c.purl.clone(),
                hashes: c.hashes.clone(),
                ..Component::default()
            })
            .collect()
    };
    for (json, xml) in [
        ("dropwizard-1.3.15/bom.json", "dropwizard-1.3.15/bom.xml"),
        ("juice-shop/v11.1.2/bom.json", "juice-shop/v11.1.2/bom.xml"),
        (
            "proton-bridge/proton-bridge-v1.6.3.bom.json",
            "proton-bridge/proton-bridge-v1.6.3.bom.xml",
        ),
    ] {
        assert_eq!(
            identity(&load(json)),
            identity(&load(xml)),
            "{json} vs {xml}"
        );
    }
}

#[test]
fn real_trivy_and_tag_value_details() {
    let opts = IngestOptions { strict: false };
    let root = corpus();
    // trivy writes OPERATING-SYSTEM; the schema spells it OPERATING_SYSTEM.
    let trivy = root.join("bom-shelter/in-the-lab/spdx-popular-containers/data").join(
        "spdx-trivy-bitnami_jupyter-base-notebook-sha256:b94f8cd9cc2bad69466d25968076a0030e858bdd20f32444545f41b5eb4c79b4.json",
    );
    let bytes = std::fs::read(&trivy).unwrap();
    let raw: Value = serde_json::from_slice(&bytes).unwrap();
    let sbom = parse(&bytes, Some("application/spdx+json"), &opts).unwrap();
    let raw_purls = raw["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["referenceType"] == "purl")
        })
        .count();
    let purls = sbom
        .subject
        .iter()
        .chain(&sbom.components)
        .filter(|c| c.purl.is_some())
        .count();
    assert_eq!(purls, raw_purls);
    assert!(sbom.ntia.author_present && sbom.ntia.timestamp_present);

    let tv = root.join("spdx/spdx-spec-examples/v2.3.1/examples/SPDXTagExample-v2.3.spdx");
    let bytes = std::fs::read(&tv).unwrap();
    let sbom = parse(&bytes, Some("text/spdx"), &opts).unwrap();
    assert_eq!(sbom.spec_version, "2.3");
    assert_eq!(
        sbom.authors,
        [
            "Person: Jane Doe ()",
            "Organization: ExampleCodeInspect ()",
            "Tool: LicenseFind-1.0"
        ]
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(sbom
        .subject
        .iter()
        .all(|s| text.contains(&format!("DESCRIBES {}", s.bom_ref.as_deref().unwrap()))));
}

/// Small real files of each format, for the no-panic tests.
fn seeds() -> Vec<Vec<u8>> {
    let root = corpus();
    [
        "cyclonedx/specification-examples/1.6/valid-bom-1.6.json",
        "cyclonedx/specification-examples/1.4/valid-bom-1.4.xml",
        "spdx/spdx-examples/software/example7/spdx2.2/example7-bin.spdx.json",
        "spdx/spdx-examples/software/example6/spdx2.2/example6-lib.spdx",
    ]
    .iter()
    .map(|p| std::fs::read(root.join(p)).unwrap())
    .collect()
}

#[test]
fn truncated_real_files_never_panic() {
    let lax = IngestOptions { strict: false };
    for seed in seeds() {
        let step = (seed.len() / 97).max(1);
        for cut in (0..seed.len()).step_by(step) {
            let _ = parse(&seed[..cut], None, &lax);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        prefix in proptest::sample::select(vec!["", "{", "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\">", "SPDXVersion: SPDX-2.3\n"]),
    ) {
        let mut input = prefix.as_bytes().to_vec();
        input.extend_from_slice(&bytes);
        for ct in [None, Some("text/spdx"), Some("application/vnd.cyclonedx+xml")] {
            let _ = parse(&input, ct, &IngestOptions { strict: false });
        }
    }

    #[test]
    fn mutated_real_files_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..8),
    ) {
        let mut input = seeds().swap_remove(which);
        for (at, byte) in edits {
            let i = at.index(input.len());
            input[i] = byte;
        }
        let _ = parse(&input, None, &IngestOptions { strict: false });
    }
}
