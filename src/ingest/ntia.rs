//! The NTIA "minimum elements" check (NTIA, July 2021) of one normalised document: SBOM author,
//! timestamp and dependency relationships at document level, and supplier, version and a unique
//! identifier for every component. The subject is checked like any other component: the
//! minimum elements apply to the top-level component too.

use super::{Extracted, Item};
use crate::model::NtiaReport;

pub(crate) fn report(doc: &Extracted) -> NtiaReport {
    let all = || doc.subject.iter().chain(&doc.components);
    let missing = |lacks: fn(&Item) -> bool| -> Vec<String> {
        all().filter(|i| lacks(i)).map(label).collect()
    };
    let missing_supplier = missing(|i| i.component.supplier.is_none());
    let missing_version = missing(|i| i.component.version.is_none());
    // Unique identifiers NTIA names: purl, CPE, SWID. A document-local bom-ref/SPDXID is not one.
    let missing_unique_id =
        missing(|i| i.component.purl.is_none() && i.component.cpe.is_none() && !i.swid);
    let author_present = !doc.authors.is_empty();
    let timestamp_present = doc.timestamp.is_some();
    let dependencies_present = all().any(|i| !i.component.depends_on.is_empty());
    NtiaReport {
        conformant: author_present
            && timestamp_present
            && dependencies_present
            && missing_supplier.is_empty()
            && missing_version.is_empty()
            && missing_unique_id.is_empty(),
        author_present,
        timestamp_present,
        dependencies_present,
        missing_supplier,
        missing_version,
        missing_unique_id,
    }
}

fn label(i: &Item) -> String {
    i.component
        .bom_ref
        .clone()
        .unwrap_or_else(|| i.component.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Component;

    fn item(bom_ref: &str, f: impl FnOnce(&mut Component)) -> Item {
        let mut component = Component {
            bom_ref: Some(bom_ref.to_string()),
            name: bom_ref.to_string(),
            ..Component::default()
        };
        f(&mut component);
        Item {
            component,
            swid: false,
        }
    }

    #[test]
    fn lists_each_missing_element() {
        let full = |c: &mut Component| {
            c.supplier = Some("ACME".into());
            c.version = Some("1".into());
            c.purl = Some("pkg:generic/x@1".into());
            c.depends_on = vec!["b".into()];
        };
        let mut doc = Extracted {
            spec_version: "1.6".into(),
            subject: vec![item("app", full)],
            components: vec![item("b", |c| {
                c.cpe = Some("cpe:2.3:a:x:b:1:*:*:*:*:*:*:*".into())
            })],
            authors: vec!["Tool: x".into()],
            timestamp: Some("2024-01-01T00:00:00Z".into()),
        };
        let r = report(&doc);
        assert!(r.author_present && r.timestamp_present && r.dependencies_present);
        assert_eq!(r.missing_supplier, ["b"]);
        assert_eq!(r.missing_version, ["b"]);
        assert!(r.missing_unique_id.is_empty());
        assert!(!r.conformant);

        doc.components = vec![item("c", full)];
        doc.components[0].swid = true;
        assert!(report(&doc).conformant);
        doc.timestamp = None;
        assert!(!report(&doc).conformant);
    }
}
