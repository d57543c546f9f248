//! Alpine (apk) order, a port of apk-tools' `src/version.c` (the tokenizer with `~hash`):
//! `digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`. Numbers compare numerically unless one
//! has a leading zero (then as strings, like Gentoo); suffixes order
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`; when one version runs
//! out of tokens first, the longer one is greater unless it continues with a pre-release suffix.
//! Strings `apk_version_validate` rejects are refused.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit = 0,
    Digit = 1,
    Letter = 2,
    Suffix = 3,
    SuffixNo = 4,
    CommitHash = 5,
    RevisionNo = 6,
    End = 7,
}

/// `SUFFIX_NONE`: suffixes ranked below it are pre-releases.
const SUFFIX_NONE: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    number: u64,
    suffix: u8,
    /// Byte range of the token's text in `raw`.
    start: usize,
    end: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct ApkVersion {
    raw: Box<str>,
    tokens: Vec<Token>,
}

const END: Token = Token {
    kind: Kind::End,
    number: 0,
    suffix: 0,
    start: 0,
    end: 0,
};

fn suffix_value(s: &str) -> Option<u8> {
    Some(match s {
        "alpha" => 1,
        "beta" => 2,
        "pre" => 3,
        "rc" => 4,
        "cvs" => 6,
        "svn" => 7,
        "git" => 8,
        "hg" => 9,
        "p" => 10,
        _ => return None,
    })
}

impl ApkVersion {
    pub(crate) fn parse(s: &str) -> Result<ApkVersion, String> {
        let b = s.as_bytes();
        let digits_from = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let number = |from: usize, to: usize| {
            b[from..to].iter().fold(0u64, |n, d| {
                n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
            })
        };
        let mut tokens = Vec::new();
        let end = digits_from(0);
        if end == 0 {
            return Err("must start with a digit".into());
        }
        tokens.push(Token {
            kind: Kind::InitialDigit,
            number: number(0, end),
            suffix: 0,
            start: 0,
            end,
        });
        let mut pos = end;
        let mut last = Kind::InitialDigit;
        let invalid = |pos: usize| Err(format!("unexpected text at byte {pos}"));
        while let Some(&c) = b.get(pos) {
            let token = match c {
                b'a'..=b'z' => {
                    if last > Kind::Digit {
                        return invalid(pos);
                    }
                    pos += 1;
                    Token {
                        kind: Kind::Letter,
                        number: 0,
                        suffix: 0,
                        start: pos - 1,
                        end: pos,
                    }
                }
                b'.' | b'0'..=b'9' => {
                    if c == b'.' {
                        if last > Kind::Digit {
                            return invalid(pos);
                        }
                        pos += 1;
                    }
                    let kind = match last {
                        Kind::InitialDigit | Kind::Digit => Kind::Digit,
                        Kind::Suffix => Kind::SuffixNo,
                        _ => return invalid(pos),
                    };
                    let end = digits_from(pos);
                    if end == pos {
                        return invalid(pos);
                    }
                    let t = Token {
                        kind,
                        number: number(pos, end),
                        suffix: 0,
                        start: pos,
                        end,
                    };
                    pos = end;
                    t
                }
                b'_' => {
                    if last > Kind::SuffixNo {
                        return invalid(pos);
                    }
                    let start = pos + 1;
                    let end = start
                        + b[start..]
                            .iter()
                            .take_while(|c| c.is_ascii_lowercase())
                            .count();
                    let suffix = suffix_value(&s[start..end])
                        .ok_or_else(|| format!("unknown suffix {:?}", &s[start..end]))?;
                    pos = end;
                    Token {
                        kind: Kind::Suffix,
                        number: 0,
                        suffix,
                        start,
                        end,
                    }
                }
                b'~' => {
                    if last >= Kind::CommitHash {
                        return invalid(pos);
                    }
                    let start = pos + 1;
                    let end = start
                        + b[start..]
                            .iter()
                            .take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                            .count();
                    if end == start {
                        return invalid(pos);
                    }
                    pos = end;
                    Token {
                        kind: Kind::CommitHash,
                        number: 0,
                        suffix: 0,
                        start,
                        end,
                    }
                }
                b'-' => {
                    if last >= Kind::RevisionNo || b.get(pos + 1) != Some(&b'r') {
                        return invalid(pos);
                    }
                    let start = pos + 2;
                    let end = digits_from(start);
                    if end == start {
                        return invalid(pos);
                    }
                    pos = end;
                    Token {
                        kind: Kind::RevisionNo,
                        number: number(start, end),
                        suffix: 0,
                        start,
                        end,
                    }
                }
                _ => return invalid(pos),
            };
            last = token.kind;
            tokens.push(token);
        }
        Ok(ApkVersion {
            raw: s.into(),
            tokens,
        })
    }

    fn text(&self, t: &Token) -> &[u8] {
        self.raw.as_bytes().get(t.start..t.end).unwrap_or_default()
    }

    fn token_cmp(&self, ta: &Token, other: &ApkVersion, tb: &Token) -> Ordering {
        let (va, vb) = (self.text(ta), other.text(tb));
        match ta.kind {
            Kind::Digit if va.first() == Some(&b'0') || vb.first() == Some(&b'0') => va.cmp(vb),
            Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
                ta.number.cmp(&tb.number)
            }
            Kind::Letter => va.first().cmp(&vb.first()),
            Kind::Suffix => ta.suffix.cmp(&tb.suffix),
            Kind::CommitHash | Kind::End => va.cmp(vb),
        }
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut i = 0;
        let (ta, tb) = loop {
            let ta = self.tokens.get(i).unwrap_or(&END);
            let tb = other.tokens.get(i).unwrap_or(&END);
            if ta.kind != tb.kind || ta.kind == Kind::End {
                break (ta, tb);
            }
            let o = self.token_cmp(ta, other, tb);
            if o.is_ne() {
                return o;
            }
            i += 1;
        };
        if ta.kind == tb.kind {
            return Ordering::Equal;
        }
        if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
            return Ordering::Less;
        }
        if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
            return Ordering::Greater;
        }
        // The side whose next token kind is later in the grammar is the smaller one.
        tb.kind.cmp(&ta.kind)
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::ApkVersion;
    use std::cmp::Ordering::{self, *};

    fn cmp(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .unwrap()
            .cmp(&ApkVersion::parse(b).unwrap())
    }

    // Cases in the style of apk-tools' test/version.data.
    #[test]
    fn ordering() {
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1.0_alpha", "1.0", Less),
            ("1.0_alpha", "1.0_beta", Less),
            ("1.0_beta", "1.0_pre", Less),
            ("1.0_pre", "1.0_rc", Less),
            ("1.0_rc", "1.0", Less),
            ("1.0", "1.0_cvs", Less),
            ("1.0_cvs", "1.0_svn", Less),
            ("1.0_svn", "1.0_git", Less),
            ("1.0_git", "1.0_hg", Less),
            ("1.0_hg", "1.0_p", Less),
            ("1.0_rc1", "1.0_rc2", Less),
            ("1.0_p1", "1.0_p1-r1", Less),
            ("1.0-r0", "1.0-r1", Less),
            ("1.0-r9", "1.0-r10", Less),
            ("1.0", "1.0-r0", Less),
            ("1.0a", "1.0b", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0.1", Less),
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("1.2.10", "1.2.9", Greater),
            ("2.0_rc1-r0", "2.0-r0", Less),
            ("1.2.3~abc123", "1.2.3", Greater),
            ("1.2.3~abc123-r1", "1.2.3~abc123-r2", Less),
            ("1.2.3_p1~ab", "1.2.3_p1~ac", Less),
        ] {
            assert_eq!(cmp(a, b), o, "{a} vs {b}");
            assert_eq!(cmp(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            "a1",
            "1.0-1",
            "1.0_foo",
            "1.0ab",
            "1.0-r",
            "1.0-rc1",
            "1.0_",
            "1.0~",
            "1.0 ",
            "1..0",
            "1.0-r1_p1",
            "1.0A",
        ] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
