//! RPM order: `[epoch:]version[-release]` compared with rpmvercmp (epoch, then version, then
//! release; `~` sorts before anything, `^` after the base but before anything else), via the
//! `rpm-version` crate. OSV writes RPM versions as `0:1.2.3-4.el9` or `1.2.3-4.el9`.

use rpm_version::Evr;
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub(crate) struct RpmVersion {
    evr: Evr<'static>,
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for RpmVersion {}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // `Evr`'s own `PartialEq` is textual; only its `Ord` is rpmvercmp.
        Ord::cmp(&self.evr, &other.evr)
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl RpmVersion {
    pub(crate) fn parse(s: &str) -> Result<RpmVersion, String> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("empty or contains whitespace".into());
        }
        let (epoch, version, release) = Evr::parse_values(s);
        if !epoch.is_empty() && !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("epoch {epoch:?} is not a number"));
        }
        if version.is_empty() {
            return Err("missing version".into());
        }
        if version.contains(':') || release.contains(':') {
            return Err("more than one ':'".into());
        }
        if s.contains('-') && release.is_empty() {
            return Err("empty release".into());
        }
        Ok(RpmVersion {
            evr: Evr::new(epoch.to_string(), version.to_string(), release.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RpmVersion;
    use std::cmp::Ordering::{self, *};

    fn cmp(a: &str, b: &str) -> Ordering {
        RpmVersion::parse(a)
            .unwrap()
            .cmp(&RpmVersion::parse(b).unwrap())
    }

    // Cases from rpm's tests/rpmvercmp.at.
    #[test]
    fn rpmvercmp() {
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1a", Less),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0aa", "1.0a", Greater),
            ("1b.fc17", "1b.fc17", Equal),
            ("1b.fc17", "1.fc17", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.01", "1.1", Equal),
        ] {
            assert_eq!(cmp(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn epoch_and_release() {
        assert_eq!(cmp("0:1.2.3-4.el9", "1.2.3-4.el9"), Equal);
        assert_eq!(cmp("1:1.0-1.el9", "2.0-1.el9"), Greater);
        assert_eq!(cmp("1.2.3-4.el9", "1.2.3-10.el9"), Less);
        assert_eq!(cmp("1.2.3-4.el9_1", "1.2.3-4.el9"), Greater);
        for bad in ["", "a:1.0-1", "1.0-", "1:2:3-4", "1.0 -1"] {
            assert!(RpmVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
