//! NuGet version order, after NuGet.Versioning's `NuGetVersion.TryParse` and
//! `VersionComparer.Default`: one to four numeric parts (legacy `1.2.3.4`, missing parts are 0),
//! an optional SemVer 2.0 release label compared part by part (numbers numerically and below
//! text, text case-insensitively), and build metadata that is ignored.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    /// A label part that parses as a .NET `int`.
    Number(u32),
    /// Other parts, upper-cased once so comparison is `OrdinalIgnoreCase`.
    Text(Box<str>),
}

impl Ord for Label {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Label::Number(a), Label::Number(b)) => a.cmp(b),
            (Label::Number(_), Label::Text(_)) => Ordering::Less,
            (Label::Text(_), Label::Number(_)) => Ordering::Greater,
            (Label::Text(a), Label::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NuGetVersion {
    parts: [u32; 4],
    /// Empty for a stable release.
    release: Vec<Label>,
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (self.release.is_empty(), other.release.is_empty()) {
                (true, true) => Ordering::Equal,
                // A prerelease sorts before the stable release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // Slice order is NuGet's: part by part, the shorter list first on a tie.
                (false, false) => self.release.cmp(&other.release),
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn valid_identifier(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl NuGetVersion {
    pub(crate) fn parse(s: &str) -> Result<NuGetVersion, String> {
        let (rest, metadata) = match s.split_once('+') {
            Some((r, m)) => (r, Some(m)),
            None => (s, None),
        };
        if let Some(m) = metadata {
            if !m.split('.').all(valid_identifier) {
                return Err(format!("invalid build metadata {m:?}"));
            }
        }
        let (core, label) = match rest.split_once('-') {
            Some((c, l)) => (c, Some(l)),
            None => (rest, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.is_empty() || numbers.len() > 4 {
            return Err("expected one to four numeric parts".into());
        }
        let mut parts = [0u32; 4];
        for (slot, n) in parts.iter_mut().zip(&numbers) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid numeric part {n:?}"));
            }
            // .NET parses each part as a non-negative Int32.
            *slot = n
                .parse::<u32>()
                .ok()
                .filter(|v| *v <= i32::MAX as u32)
                .ok_or_else(|| format!("numeric part {n:?} out of range"))?;
        }
        let mut release = Vec::new();
        if let Some(label) = label {
            for part in label.split('.') {
                if !valid_identifier(part) {
                    return Err(format!("invalid release label {label:?}"));
                }
                let number = part
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| part.parse::<u32>().ok().filter(|v| *v <= i32::MAX as u32))
                    .flatten();
                release.push(match number {
                    Some(n) => Label::Number(n),
                    None => Label::Text(part.to_ascii_uppercase().into()),
                });
            }
        }
        Ok(NuGetVersion { parts, release })
    }
}

#[cfg(test)]
mod tests {
    use super::NuGetVersion;
    use std::cmp::Ordering;

    fn cmp(a: &str, b: &str) -> Ordering {
        NuGetVersion::parse(a)
            .unwrap()
            .cmp(&NuGetVersion::parse(b).unwrap())
    }

    #[test]
    fn ordering() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1",
            "1.1",
            "2",
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn equalities() {
        assert_eq!(cmp("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(cmp("1.0.0-BETA", "1.0.0-beta"), Ordering::Equal);
        assert_eq!(cmp("1.0.0+abc", "1.0.0+def"), Ordering::Equal);
        assert_eq!(cmp("01.2.3", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn invalid() {
        for bad in [
            "",
            "v1.0",
            "1.2.3.4.5",
            "1..2",
            "1.0-",
            "1.0-beta..1",
            "1.0+",
            "a.b",
            "1.0 ",
        ] {
            assert!(NuGetVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
