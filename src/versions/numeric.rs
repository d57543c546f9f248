//! Dotted-natural version schemes compared as lists, lexicographically, where a list that is a
//! prefix of another is smaller (`1.0 < 1.0.0`):
//! - Hackage/GHC: Cabal's `Version` parser (`versionDigitParser`): `.`-separated naturals, no
//!   leading zeros, at most 9 digits a part, no tags.
//! - CRAN/Bioconductor: R's `package_version`: at least two naturals separated by `.` or `-`.

use super::num::Num;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NumericVersion {
    parts: Vec<Num>,
}

impl NumericVersion {
    pub(crate) fn hackage(s: &str) -> Result<NumericVersion, String> {
        let parts = s
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(format!("invalid component {p:?}"))
                } else if p.len() > 1 && p.starts_with('0') {
                    Err(format!("leading zero in {p:?}"))
                } else if p.len() > 9 {
                    Err(format!("more than 9 digits in {p:?}"))
                } else {
                    Ok(Num::from_digits(p))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NumericVersion { parts })
    }

    pub(crate) fn cran(s: &str) -> Result<NumericVersion, String> {
        let parts = s
            .split(['.', '-'])
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(format!("invalid component {p:?}"))
                } else {
                    Ok(Num::from_digits(p))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.len() < 2 {
            return Err("R package versions have at least two components".into());
        }
        Ok(NumericVersion { parts })
    }
}

impl NumericVersion {
    #[cfg(test)]
    fn cmp_str(
        a: &str,
        b: &str,
        f: fn(&str) -> Result<NumericVersion, String>,
    ) -> std::cmp::Ordering {
        f(a).unwrap().cmp(&f(b).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::NumericVersion as V;
    use std::cmp::Ordering::*;

    #[test]
    fn hackage() {
        assert_eq!(V::cmp_str("1.0", "1.0.0", V::hackage), Less);
        assert_eq!(V::cmp_str("1.2.10", "1.2.9", V::hackage), Greater);
        assert_eq!(V::cmp_str("6.20170818", "6.3", V::hackage), Greater);
        assert_eq!(V::cmp_str("0", "0", V::hackage), Equal);
        for bad in [
            "",
            "1.",
            ".1",
            "01.2",
            "1.2-tag",
            "1234567890",
            "v1.2",
            "1..2",
        ] {
            assert!(V::hackage(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cran() {
        assert_eq!(V::cmp_str("1.0-1", "1.0.1", V::cran), Equal);
        assert_eq!(V::cmp_str("0.9-10", "0.9-9", V::cran), Greater);
        assert_eq!(V::cmp_str("1.01", "1.1", V::cran), Equal);
        assert_eq!(V::cmp_str("1.0", "1.0.0", V::cran), Less);
        for bad in ["1", "", "1.", "1..2", "1.0a", "v1.0"] {
            assert!(V::cran(bad).is_err(), "{bad:?}");
        }
    }
}
