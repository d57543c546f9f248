//! A conservative comparator for versions with no ecosystem (NVD CPE bounds), never chosen for an
//! OSV ecosystem. Runs of ASCII digits are numbers, runs of ASCII letters are words (compared
//! case-insensitively), everything else separates. Trailing zero numbers are dropped before the
//! first word and at the end, so `1.0 = 1.0.0`. At each position: well-known pre-release words
//! (`dev < snapshot < alpha < beta < milestone < pre = preview < rc`) < nothing < other words
//! (lexically; `1.1.1 < 1.1.1k`) < numbers.

use super::num::Num;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    PreRelease(u8),
    // `Missing` sits here when lists of different length are compared.
    Word(Box<str>),
    Num(Num),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenericVersion {
    tokens: Vec<Token>,
}

fn pre_release_rank(word: &str) -> Option<u8> {
    Some(match word {
        "dev" => 0,
        "snapshot" => 1,
        "alpha" => 2,
        "beta" => 3,
        "milestone" => 4,
        "pre" | "preview" => 5,
        "rc" => 6,
        _ => return None,
    })
}

/// Position of a token against a missing one: below for pre-release words, above otherwise.
fn against_missing(t: &Token) -> Ordering {
    match t {
        Token::PreRelease(_) => Ordering::Less,
        Token::Word(_) | Token::Num(_) => Ordering::Greater,
    }
}

impl Ord for GenericVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.tokens.len().max(other.tokens.len());
        for i in 0..len {
            let o = match (self.tokens.get(i), other.tokens.get(i)) {
                (Some(a), Some(b)) => a.cmp(b),
                (Some(a), None) => against_missing(a),
                (None, Some(b)) => against_missing(b).reverse(),
                (None, None) => Ordering::Equal,
            };
            if o.is_ne() {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GenericVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl GenericVersion {
    pub(crate) fn parse(s: &str) -> Result<GenericVersion, String> {
        let mut tokens = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            let start = i;
            if c.is_ascii_digit() {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                tokens.push(Token::Num(Num::from_digits(&s[start..i])));
            } else if c.is_ascii_alphabetic() {
                while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                let word = s[start..i].to_ascii_lowercase();
                tokens.push(match pre_release_rank(&word) {
                    Some(rank) => Token::PreRelease(rank),
                    None => Token::Word(word.into()),
                });
            } else {
                i += 1;
            }
        }
        if !tokens.first().is_some_and(|t| matches!(t, Token::Num(_))) {
            return Err("a generic version starts with a number".into());
        }
        let split = tokens
            .iter()
            .position(|t| !matches!(t, Token::Num(_)))
            .unwrap_or(tokens.len());
        let mut tail = tokens.split_off(split);
        let zero = Token::Num(Num::Small(0));
        while tokens.len() > 1 && tokens.last() == Some(&zero) {
            tokens.pop();
        }
        while tail.last() == Some(&zero) {
            tail.pop();
        }
        tokens.append(&mut tail);
        Ok(GenericVersion { tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::GenericVersion;
    use std::cmp::Ordering::{self, *};

    fn cmp(a: &str, b: &str) -> Ordering {
        GenericVersion::parse(a)
            .unwrap()
            .cmp(&GenericVersion::parse(b).unwrap())
    }

    #[test]
    fn ordering() {
        for (a, b, o) in [
            ("1.0", "1.0.0", Equal),
            ("2.4.49", "2.4.50", Less),
            ("1.1.1", "1.1.1k", Less),
            ("1.1.1k", "1.1.1l", Less),
            ("1.1.1k", "1.1.2", Less),
            ("1.0-beta", "1.0", Less),
            ("1.0-rc1", "1.0", Less),
            ("1.0-beta2", "1.0-rc1", Less),
            ("1.0", "1.0.1", Less),
            ("1.0a", "1.0.1", Less),
            ("7.0 Update 45", "7.0_update_45", Equal),
            ("10.0", "9.9", Greater),
        ] {
            assert_eq!(cmp(a, b), o, "{a} vs {b}");
            assert_eq!(cmp(b, a), o.reverse(), "{b} vs {a}");
        }
        for bad in ["", "*", "-", "beta"] {
            assert!(GenericVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
