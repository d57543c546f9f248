//! SemVer 2.0 precedence (semver.org §11) for crates.io, npm, Go and friends. Parsing is the
//! `semver` crate's strict grammar (what Cargo accepts); the loose and Go front ends only rewrite
//! the numeric core before handing the rest to it. Build metadata never takes part in ordering,
//! so Go's `+incompatible` and Julia's `+0` builds compare equal to the plain version.

use std::cmp::Ordering;

/// Major, minor, patch and prerelease: the fields SemVer precedence looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SemverKey {
    major: u64,
    minor: u64,
    patch: u64,
    pre: semver::Prerelease,
}

impl Ord for SemverKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            // `semver::Prerelease` orders the empty prerelease above any other, per §11.3.
            .then_with(|| self.pre.cmp(&other.pre))
    }
}

impl PartialOrd for SemverKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn key(v: semver::Version) -> SemverKey {
    SemverKey {
        major: v.major,
        minor: v.minor,
        patch: v.patch,
        pre: v.pre,
    }
}

/// Exactly the grammar Cargo accepts.
pub(crate) fn parse_strict(s: &str) -> Result<SemverKey, String> {
    semver::Version::parse(s)
        .map(key)
        .map_err(|e| e.to_string())
}

/// The numeric core `N[.N[.N]]` at the start of `s` and the rest of the string.
fn split_core(s: &str) -> (Vec<&str>, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (core, rest) = s.split_at(end);
    (core.split('.').collect(), rest)
}

fn core_number(part: &str, allow_leading_zero: bool) -> Result<u64, String> {
    if part.is_empty() {
        return Err("empty numeric component".into());
    }
    if !allow_leading_zero && part.len() > 1 && part.starts_with('0') {
        return Err(format!("leading zero in {part:?}"));
    }
    part.parse::<u64>()
        .map_err(|_| format!("numeric component {part:?} out of range"))
}

/// Rebuild `major.minor.patch` + `rest` and let the strict parser check prerelease and build.
fn finish(parts: &[u64; 3], rest: &str) -> Result<SemverKey, String> {
    let text = format!("{}.{}.{}{}", parts[0], parts[1], parts[2], rest);
    parse_strict(&text)
}

/// npm-style loose SemVer: surrounding whitespace, leading `=` and `v`, one to three numeric
/// parts (missing ones are 0), leading zeros, and a prerelease written without its `-`
/// (`1.2.3beta`).
pub(crate) fn parse_loose(s: &str) -> Result<SemverKey, String> {
    let t = s.trim().trim_start_matches(['=', 'v', 'V', ' ']);
    let (core, rest) = split_core(t);
    if core.len() > 3 {
        return Err("more than three numeric parts".into());
    }
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(&core) {
        *slot = core_number(part, true)?;
    }
    let rest = match rest.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => format!("-{rest}"),
        _ => rest.to_string(),
    };
    finish(&parts, &rest)
}

/// Go module versions (golang.org/x/mod/semver): an optional leading `v`, the shorthands `v1`
/// and `v1.2` (only without prerelease or build), no leading zeros. Pseudo-versions such as
/// `v0.0.0-20191109021931-daa7c04131f5` are ordinary prereleases.
pub(crate) fn parse_go(s: &str) -> Result<SemverKey, String> {
    let t = s.strip_prefix('v').unwrap_or(s);
    let (core, rest) = split_core(t);
    if core.len() > 3 {
        return Err("more than three numeric parts".into());
    }
    if core.len() < 3 && !rest.is_empty() {
        return Err("a shortened version cannot carry a prerelease or build".into());
    }
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(&core) {
        *slot = core_number(part, false)?;
    }
    finish(&parts, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    fn cmp(f: fn(&str) -> Result<SemverKey, String>, a: &str, b: &str) -> Ordering {
        f(a).unwrap().cmp(&f(b).unwrap())
    }

    #[test]
    fn semver_spec_precedence_example() {
        // semver.org §11.4, in order.
        let v = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in v.windows(2) {
            assert_eq!(cmp(parse_strict, w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(cmp(parse_strict, "1.0.0+build.1", "1.0.0+other"), Equal);
    }

    #[test]
    fn strict_refuses_loose_forms() {
        for bad in [
            "v1.2.3", "=1.2.3", "1.2", "01.2.3", "1.2.3.4", "1.2.3-", " 1.2.3", "1.0.0-01",
        ] {
            assert!(parse_strict(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loose_front_end() {
        assert_eq!(cmp(parse_loose, "v1.2.3", "1.2.3"), Equal);
        assert_eq!(cmp(parse_loose, "=1.2.3", "1.2.3"), Equal);
        assert_eq!(cmp(parse_loose, "1.2.3beta", "1.2.3-beta"), Equal);
        assert_eq!(cmp(parse_loose, "2023.03.20", "2023.3.20"), Equal);
        assert_eq!(cmp(parse_loose, "1.2", "1.2.0"), Equal);
        assert_eq!(cmp(parse_loose, "3.4.8+0", "3.4.8"), Equal);
        assert!(parse_loose("not-a-version").is_err());
        assert!(parse_loose("1.2.3.4").is_err());
    }

    #[test]
    fn go_versions() {
        // A pseudo-version sorts below the release it precedes and above older tags.
        let pseudo = "v0.0.0-20191109021931-daa7c04131f5";
        assert_eq!(cmp(parse_go, pseudo, "v0.0.0"), Less);
        assert_eq!(
            cmp(parse_go, pseudo, "v0.0.0-20200101000000-aaaaaaaaaaaa"),
            Less
        );
        assert_eq!(
            cmp(parse_go, "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5"),
            Less
        );
        assert_eq!(
            cmp(parse_go, "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4"),
            Less
        );
        assert_eq!(cmp(parse_go, "v2.0.0+incompatible", "2.0.0"), Equal);
        assert_eq!(cmp(parse_go, "v1", "v1.0.0"), Equal);
        assert_eq!(cmp(parse_go, "v1.2", "v1.2.0"), Equal);
        assert!(parse_go("v1.2-pre").is_err());
        assert!(parse_go("v01.2.3").is_err());
        assert!(parse_go("vv1.2.3").is_err());
    }
}
