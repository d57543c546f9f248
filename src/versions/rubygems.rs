//! RubyGems order, after `Gem::Version` (rubygems/version.rb): the string must match
//! `ANCHORED_VERSION_PATTERN`, `-` becomes `.pre.`, segments are runs of digits (numbers) or
//! letters (strings), trailing zeros of the release and of the prerelease part are dropped
//! (`canonical_segments`), and segments compare pairwise with a missing one counting as 0 and any
//! string sorting before any number, so `1.0.a` and `1.0.rc1` are prereleases of `1.0`.

use super::num::Num;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(Num),
    Str(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GemVersion {
    canonical: Vec<Segment>,
}

const ZERO: Segment = Segment::Num(Num::Small(0));

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.canonical.len().max(other.canonical.len());
        for i in 0..len {
            let l = self.canonical.get(i).unwrap_or(&ZERO);
            let r = other.canonical.get(i).unwrap_or(&ZERO);
            let o = match (l, r) {
                (Segment::Num(a), Segment::Num(b)) => a.cmp(b),
                (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
                (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
                // Ruby's String#<=> is a byte comparison.
                (Segment::Str(a), Segment::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            };
            if o.is_ne() {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, or nothing at all.
fn matches_pattern(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

impl GemVersion {
    pub(crate) fn parse(s: &str) -> Result<GemVersion, String> {
        // Ruby's \s and String#strip: ASCII whitespace (and NUL for strip).
        let v = s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        if !matches_pattern(v) {
            return Err("does not match Gem::Version's pattern".into());
        }
        let v = if v.is_empty() { "0" } else { v };
        let v = v.replace('-', ".pre.");
        let bytes = v.as_bytes();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            let Some(&b) = bytes.get(i) else { break };
            if b.is_ascii_digit() {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                segments.push(Segment::Num(Num::from_digits(&v[start..i])));
            } else if b.is_ascii_alphabetic() {
                while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                segments.push(Segment::Str(v[start..i].into()));
            } else {
                i += 1;
            }
        }
        // canonical_segments: drop trailing zeros of the numeric prefix and of the rest.
        let split = segments
            .iter()
            .position(|s| matches!(s, Segment::Str(_)))
            .unwrap_or(segments.len());
        let mut tail = segments.split_off(split);
        let trim = |v: &mut Vec<Segment>| {
            while v.last().is_some_and(|s| *s == ZERO) {
                v.pop();
            }
        };
        trim(&mut segments);
        trim(&mut tail);
        segments.append(&mut tail);
        Ok(GemVersion {
            canonical: segments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::GemVersion;
    use std::cmp::Ordering::{self, *};

    fn cmp(a: &str, b: &str) -> Ordering {
        GemVersion::parse(a)
            .unwrap()
            .cmp(&GemVersion::parse(b).unwrap())
    }

    // Cases from rubygems' test_gem_version.rb (test_spaceship, test_eql, test_prerelease).
    #[test]
    fn spaceship() {
        assert_eq!(cmp("1.0", "1.0.0"), Equal);
        assert_eq!(cmp("1", "1.0.0"), Equal);
        assert_eq!(cmp("1.0", "1.0.a"), Greater);
        assert_eq!(cmp("1.8.2", "0.0.0"), Greater);
        assert_eq!(cmp("1.8.2", "1.8.2.a"), Greater);
        assert_eq!(cmp("1.8.2.b", "1.8.2.a"), Greater);
        assert_eq!(cmp("1.8.2.a", "1.8.2"), Less);
        assert_eq!(cmp("1.8.2.a10", "1.8.2.a9"), Greater);
        assert_eq!(cmp("", "0"), Equal);
        assert_eq!(cmp("0.beta.1", "0.0.beta.1"), Equal);
        assert_eq!(cmp("0.0.beta", "0.0.beta.1"), Less);
        assert_eq!(cmp("0.0.beta", "0.beta.1"), Less);
        assert_eq!(cmp("5.a", "5.0.0.rc2"), Less);
        assert_eq!(cmp("5.x", "5.0.0.rc2"), Greater);
        assert_eq!(cmp("1.9.3", "1.9.3.0"), Equal);
        assert_eq!(cmp("1.0.0-rc1", "1.0.0.pre.rc1"), Equal);
        assert_eq!(cmp("1.0.0-1", "1.0.0"), Less);
        assert_eq!(cmp("3.21.0.rc.1", "3.21.0"), Less);
        assert_eq!(cmp(" 1.2 ", "1.2"), Equal);
    }

    #[test]
    fn invalid() {
        for bad in [
            "junk",
            "1.0\n2.0",
            "1..2",
            "1.2\u{0020}3",
            "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e.",
            "-1",
            "1.0-",
            "v1.0",
        ] {
            assert!(GemVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
