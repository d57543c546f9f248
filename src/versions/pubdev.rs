//! Pub (Dart) order, after `pub_semver`'s `Version.parse` and `Version.compareTo`:
//! `major.minor.patch[-pre][+build]` with plain decimal numbers; a prerelease sorts before the
//! release; unlike SemVer, build metadata takes part (`1.0.0 < 1.0.0+1`). Identifier lists
//! compare part by part: a missing part first, then numbers (numerically) before strings.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A part that Dart's `int.tryParse` accepts (fits an `int`).
    Num(u64),
    Str(Box<str>),
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Num(a), Part::Num(b)) => a.cmp(b),
            (Part::Num(_), Part::Str(_)) => Ordering::Less,
            (Part::Str(_), Part::Num(_)) => Ordering::Greater,
            (Part::Str(a), Part::Str(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PubVersion {
    core: [u64; 3],
    pre: Vec<Part>,
    build: Vec<Part>,
}

impl Ord for PubVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // Slice order: part by part, a missing part first.
                _ => self.pre.cmp(&other.pre),
            })
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for PubVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn parse_parts(s: &str) -> Result<Vec<Part>, String> {
    s.split('.')
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(format!("invalid identifier {p:?}"));
            }
            let num = p
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| p.parse::<u64>().ok().filter(|n| *n <= i64::MAX as u64))
                .flatten();
            Ok(num.map_or_else(|| Part::Str(p.into()), Part::Num))
        })
        .collect()
}

impl PubVersion {
    pub(crate) fn parse(s: &str) -> Result<PubVersion, String> {
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => (r, parse_parts(b)?),
            None => (s, Vec::new()),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, parse_parts(p)?),
            None => (rest, Vec::new()),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = numbers.as_slice() else {
            return Err("expected major.minor.patch".into());
        };
        let mut out = [0u64; 3];
        for (slot, n) in out.iter_mut().zip([major, minor, patch]) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid number {n:?}"));
            }
            *slot = n
                .parse::<u64>()
                .ok()
                .filter(|v| *v <= i64::MAX as u64)
                .ok_or_else(|| format!("number {n:?} out of range"))?;
        }
        Ok(PubVersion {
            core: out,
            pre,
            build,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PubVersion;
    use std::cmp::Ordering;

    // The ordered list from pub_semver's version_test.dart ("compareTo").
    #[test]
    fn compare_to() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0-rc.1+build.1",
            "1.0.0",
            "1.0.0+0.3.7",
            "1.3.7+build",
            "1.3.7+build.2.b8f12d7",
            "1.3.7+build.11.e0f985a",
            "2.0.0",
            "2.1.0",
            "2.2.0",
            "2.11.0",
            "2.11.1",
        ];
        for i in 0..ordered.len() {
            for j in 0..ordered.len() {
                let a = PubVersion::parse(ordered[i]).unwrap();
                let b = PubVersion::parse(ordered[j]).unwrap();
                assert_eq!(a.cmp(&b), i.cmp(&j), "{} vs {}", ordered[i], ordered[j]);
            }
        }
    }

    #[test]
    fn parse_rules() {
        assert_eq!(
            PubVersion::parse("01.2.3")
                .unwrap()
                .cmp(&PubVersion::parse("1.2.3").unwrap()),
            Ordering::Equal
        );
        for bad in [
            "1.0",
            "1.2.3.4",
            "v1.2.3",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "",
            "-1.0.0",
        ] {
            assert!(PubVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
