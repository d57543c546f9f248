//! Alias grouping, pure: one flaw is one vulnerability whatever feeds call it (CVE, GHSA, PYSEC,
//! GO, RUSTSEC...). Groups are the connected components of the "aliases" relation; a group is
//! named by its smallest CVE id, else its smallest id, so the name is stable across feeds.

use crate::advisory::Advisory;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The name of a group given its members.
pub fn canonical_id<'a>(members: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let mut best_cve: Option<&String> = None;
    let mut best: Option<&String> = None;
    for m in members {
        if m.starts_with("CVE-") && best_cve.is_none_or(|b| m < b) {
            best_cve = Some(m);
        }
        if best.is_none_or(|b| m < b) {
            best = Some(m);
        }
    }
    best_cve.or(best).cloned()
}

/// Alias groups over a set of advisories (for scans, which work without a store).
#[derive(Debug, Default)]
pub struct AliasGroups {
    group_of: HashMap<String, String>,
    members: BTreeMap<String, BTreeSet<String>>,
}

impl AliasGroups {
    pub fn build<'a>(advisories: impl IntoIterator<Item = &'a Advisory>) -> AliasGroups {
        let mut parent: HashMap<String, String> = HashMap::new();
        fn find(parent: &mut HashMap<String, String>, x: &str) -> String {
            let mut root = x.to_string();
            while let Some(p) = parent.get(&root) {
                if *p == root {
                    break;
                }
                root = p.clone();
            }
            // Path compression.
            let mut cur = x.to_string();
            while let Some(p) = parent.get(&cur).cloned() {
                if p == cur {
                    break;
                }
                parent.insert(cur, root.clone());
                cur = p;
            }
            root
        }
        for a in advisories {
            parent.entry(a.id.clone()).or_insert_with(|| a.id.clone());
            for al in a.aliases.iter().filter(|s| !s.trim().is_empty()) {
                parent.entry(al.clone()).or_insert_with(|| al.clone());
                let (ra, rb) = (find(&mut parent, &a.id), find(&mut parent, al));
                if ra != rb {
                    parent.insert(ra, rb);
                }
            }
        }
        let ids: Vec<String> = parent.keys().cloned().collect();
        let mut by_root: HashMap<String, BTreeSet<String>> = HashMap::new();
        for id in ids {
            let r = find(&mut parent, &id);
            by_root.entry(r).or_default().insert(id);
        }
        let mut g = AliasGroups::default();
        for (_, members) in by_root {
            if let Some(name) = canonical_id(&members) {
                for m in &members {
                    g.group_of.insert(m.clone(), name.clone());
                }
                g.members.insert(name, members);
            }
        }
        g
    }

    /// The group name of an id (the id itself when no advisory mentioned it).
    pub fn group(&self, id: &str) -> String {
        self.group_of
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    pub fn members(&self, group: &str) -> Vec<String> {
        self.members
            .get(group)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_else(|| vec![group.to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_prefers_the_smallest_cve() {
        let m: Vec<String> = ["GHSA-x", "PYSEC-1", "CVE-2021-9", "CVE-2021-10"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(canonical_id(&m).unwrap(), "CVE-2021-10");
        let m: Vec<String> = ["RUSTSEC-2020-1", "GHSA-a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(canonical_id(&m).unwrap(), "GHSA-a");
    }

    #[test]
    fn groups_are_transitive_over_real_records() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/osv/PyPI");
        let mut advs = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().take(200) {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            advs.push(crate::advisory::osv::parse_record(&bytes).unwrap());
        }
        let g = AliasGroups::build(&advs);
        for a in &advs {
            let name = g.group(&a.id);
            for al in &a.aliases {
                assert_eq!(
                    g.group(al),
                    name,
                    "{} and its alias {al} share a group",
                    a.id
                );
            }
            assert!(g.members(&name).contains(&a.id));
        }
    }
}
