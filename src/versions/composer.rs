//! Packagist order, as Composer computes it: `Composer\Semver\VersionParser::normalize` turns a
//! version into the canonical `1.2.3.0-beta2` form (aliases, `@stability` flags and build
//! metadata stripped, missing parts filled, `b`/`a`/`p`/`pl`/`rc` expanded, dates and numeric
//! `x-dev` branches handled), then PHP's `version_compare` orders the normalized strings:
//! parts split at `.` and at digit/letter transitions, numbers numerically, and the special forms
//! `dev < alpha = a < beta = b < RC = rc < (number) < pl = p` (`patch` counts as `p`).
//! Named branches (`dev-main`) have no order, so they are refused.

use std::cmp::Ordering;

/// Special-form rank of `#`, which stands for "a number" in `version_compare`.
const NUMBER_FORM: i8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// PHP parses numbers with `strtol`, which saturates.
    Num(u64),
    Form(i8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ComposerVersion {
    parts: Vec<Part>,
}

fn cmp_part(a: &Part, b: &Part) -> Ordering {
    match (a, b) {
        (Part::Num(x), Part::Num(y)) => x.cmp(y),
        (Part::Form(x), Part::Form(y)) => x.cmp(y),
        (Part::Num(_), Part::Form(y)) => NUMBER_FORM.cmp(y),
        (Part::Form(x), Part::Num(_)) => x.cmp(&NUMBER_FORM),
    }
}

/// What `version_compare` says when one side has parts left over after a tie.
fn leftover(part: &Part) -> Ordering {
    match part {
        Part::Num(_) => Ordering::Greater,
        Part::Form(f) => f.cmp(&NUMBER_FORM),
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.parts, &other.parts);
        let mut i = 0;
        loop {
            let (Some(pa), Some(pb)) = (a.get(i), b.get(i)) else {
                return a.len().cmp(&b.len());
            };
            let o = cmp_part(pa, pb);
            if o.is_ne() {
                return o;
            }
            match (a.get(i + 1), b.get(i + 1)) {
                (Some(_), Some(_)) => i += 1,
                (Some(rest), None) => return leftover(rest),
                (None, Some(rest)) => return leftover(rest).reverse(),
                (None, None) => return Ordering::Equal,
            }
        }
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `compare_special_version_forms`: a prefix match against the table, in table order.
fn form_order(s: &str) -> i8 {
    const FORMS: [(&str, i8); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", NUMBER_FORM),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| s.starts_with(name))
        .map_or(-1, |&(_, order)| order)
}

/// `php_canonicalize_version` followed by the split at `.`.
fn php_parts(v: &str) -> Vec<Part> {
    let mut canon = String::with_capacity(v.len() * 2);
    let mut last: Option<char> = None;
    let is_dig = |c: char| c.is_ascii_digit();
    let is_ndig = |c: char| !c.is_ascii_digit() && c != '.';
    for c in v.chars() {
        match last {
            None => canon.push(c),
            Some(lp) => {
                let sep_needed = !canon.ends_with('.');
                if c == '-' || c == '_' || c == '+' {
                    if sep_needed {
                        canon.push('.');
                    }
                } else if (is_ndig(lp) && is_dig(c)) || (is_dig(lp) && is_ndig(c)) {
                    if sep_needed {
                        canon.push('.');
                    }
                    canon.push(c);
                } else if !c.is_ascii_alphanumeric() {
                    if sep_needed {
                        canon.push('.');
                    }
                } else {
                    canon.push(c);
                }
            }
        }
        last = Some(c);
    }
    canon
        .split('.')
        .map(|p| {
            if p.starts_with(|c: char| c.is_ascii_digit()) {
                let digits: &str = p
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(p, |end| &p[..end]);
                Part::Num(
                    digits
                        .parse::<u64>()
                        .unwrap_or(i64::MAX as u64)
                        .min(i64::MAX as u64),
                )
            } else {
                Part::Form(form_order(p))
            }
        })
        .collect()
}

impl ComposerVersion {
    pub(crate) fn parse(s: &str) -> Result<ComposerVersion, String> {
        let normalized = normalize(s)?;
        Ok(ComposerVersion {
            parts: php_parts(&normalized),
        })
    }
}

fn count_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Composer's modifier regex, anchored at both ends and case-insensitive:
/// `[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?`.
/// Returns the stability as written, its numeric tail and whether `dev` followed.
fn match_modifier(r: &str) -> Option<(Option<&str>, &str, bool)> {
    const STABILITIES: [&str; 9] = [
        "stable", "beta", "b", "rc", "alpha", "a", "patch", "pl", "p",
    ];
    let seps: &[usize] = if r.starts_with(['.', '_', '-']) {
        &[1, 0]
    } else {
        &[0]
    };
    for &sep in seps {
        let r1 = &r[sep..];
        let lower = r1.to_ascii_lowercase();
        let mut options: Vec<Option<usize>> = STABILITIES
            .iter()
            .filter(|s| lower.starts_with(**s))
            .map(|s| Some(s.len()))
            .collect();
        options.push(None);
        for stab in options {
            let (stability, nums, rest) = match stab {
                Some(len) => {
                    let after = &r1[len..];
                    // Possessive: take every `[.-]?\d+` there is.
                    let mut pos = 0;
                    loop {
                        let tail = &after[pos..];
                        let skip = usize::from(tail.starts_with(['.', '-']));
                        let d = count_digits(&tail[skip..]);
                        if d == 0 {
                            break;
                        }
                        pos += skip + d;
                    }
                    (Some(&r1[..len]), &after[..pos], &after[pos..])
                }
                None => (None, "", r1),
            };
            let rest_lower = rest.to_ascii_lowercase();
            let dev = if rest.is_empty() {
                Some(false)
            } else if rest_lower == "dev" || rest_lower == ".dev" || rest_lower == "-dev" {
                Some(true)
            } else {
                None
            };
            if let Some(dev) = dev {
                return Some((stability, nums, dev));
            }
        }
    }
    None
}

fn expand_stability(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        _ => lower,
    }
}

fn with_modifier(
    mut version: String,
    (stability, nums, dev): (Option<&str>, &str, bool),
) -> String {
    if let Some(stab) = stability {
        if stab == "stable" {
            return version;
        }
        version.push('-');
        version.push_str(&expand_stability(stab));
        version.push_str(nums.trim_start_matches(['.', '-']));
    }
    if dev {
        version.push_str("-dev");
    }
    version
}

/// `^v?(\d{1,5}+)(\.\d++)?(\.\d++)?(\.\d++)?` + modifier.
fn classical(v: &str) -> Option<String> {
    let major_len = count_digits(v);
    if major_len == 0 || major_len > 5 {
        return None;
    }
    let mut version = v[..major_len].to_string();
    let mut rest = &v[major_len..];
    for _ in 0..3 {
        let d = rest.strip_prefix('.').map_or(0, count_digits);
        if d == 0 {
            version.push_str(".0");
        } else {
            version.push_str(&rest[..=d]);
            rest = &rest[d + 1..];
        }
    }
    match_modifier(rest).map(|m| with_modifier(version, m))
}

/// Candidate ends (in regex preference order) of `(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2}`
/// after the first four digits of a date version.
fn date_ends(v: &str, pos: usize, twos: usize, threes: usize, out: &mut Vec<usize>) {
    let tail = &v[pos..];
    let skip = usize::from(tail.starts_with(['.', ':', '-']));
    let digits = count_digits(&tail[skip..]);
    if threes == 0 && twos < 6 && digits >= 2 {
        date_ends(v, pos + skip + 2, twos + 1, 0, out);
    }
    if twos >= 1 {
        if threes < 2 {
            for n in (1..=digits.min(3)).rev() {
                date_ends(v, pos + skip + n, twos, threes + 1, out);
            }
        }
        out.push(pos);
    }
}

fn date_based(v: &str) -> Option<String> {
    if count_digits(v) < 4 {
        return None;
    }
    let mut ends = Vec::new();
    date_ends(v, 4, 0, 0, &mut ends);
    ends.into_iter().find_map(|end| {
        let version: String = v[..end]
            .chars()
            .map(|c| if c.is_ascii_digit() { c } else { '.' })
            .collect();
        match_modifier(&v[end..]).map(|m| with_modifier(version, m))
    })
}

/// `normalizeBranch` for a name that ended in `-dev`: only numeric branches order.
fn numeric_branch(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let mut parts = name.split('.');
    let first = parts.next()?;
    if first.is_empty() || count_digits(first) != first.len() {
        return None;
    }
    let mut out = first.to_string();
    let mut n = 1;
    for p in parts {
        n += 1;
        let wildcard = matches!(p, "x" | "X" | "*");
        if n > 4 || !(wildcard || (!p.is_empty() && count_digits(p) == p.len())) {
            return None;
        }
        out.push('.');
        out.push_str(if wildcard { "x" } else { p });
    }
    for _ in n..4 {
        out.push_str(".x");
    }
    Some(out.replace('x', "9999999") + "-dev")
}

fn normalize(input: &str) -> Result<String, String> {
    let mut v = input.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B']);
    // `1.0.x-dev as 1.0.0`: the part before ` as ` counts.
    let words: Vec<&str> = v.split(' ').filter(|w| !w.is_empty()).collect();
    if let [real, "as", _alias] = words.as_slice() {
        if !real.contains(',') && !real.contains(char::is_whitespace) {
            v = real;
        }
    }
    if let Some(at) = v.rfind('@') {
        let flag = v[at + 1..].to_ascii_lowercase();
        if ["stable", "rc", "beta", "alpha", "dev"].contains(&flag.as_str()) {
            v = &v[..at];
        }
    }
    if ["master", "trunk", "default"].contains(&v) || v.to_ascii_lowercase().starts_with("dev-") {
        return Err("a named branch has no version order".into());
    }
    if let Some((before, after)) = v.split_once('+') {
        if !before.is_empty()
            && !after.is_empty()
            && !before.contains([',', ' ', '\t', '\n', '\r'])
            && !after.contains(char::is_whitespace)
        {
            v = before;
        }
    }
    let unprefixed = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if let Some(n) = classical(unprefixed).or_else(|| date_based(unprefixed)) {
        return Ok(n);
    }
    let lower = v.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix("dev") {
        let stem_len = stem.strip_suffix(['.', '-']).unwrap_or(stem).len();
        if let Some(n) = numeric_branch(&v[..stem_len]) {
            return Ok(n);
        }
    }
    Err("not a version Composer can normalize".into())
}

#[cfg(test)]
mod tests {
    use super::{normalize, ComposerVersion};
    use std::cmp::Ordering;

    // Cases from composer/semver's VersionParserTest::successfulNormalizedVersions.
    #[test]
    fn normalizes_like_composer() {
        for (input, expected) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("1.13.11.0-beta0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0-alpha2.1+foo", "1.0.0.0-alpha2.1"),
            ("1.0.0-alpha-2.1-3+foo", "1.0.0.0-alpha2.1-3"),
            ("00.01.03.04", "00.01.03.04"),
            ("000.001.003.004", "000.001.003.004"),
            ("0.000.103.204", "0.000.103.204"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("1.0.0@dev", "1.0.0.0"),
            ("1.0.0 as 1.0.x-dev", "1.0.0.0"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0.0-patch", "1.0.0.0-patch"),
            ("3.21.0-RC1", "3.21.0.0-RC1"),
        ] {
            assert_eq!(normalize(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn refuses_what_composer_refuses() {
        for bad in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "dev-master",
            "master",
            "1.0.0+foo bar",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        ComposerVersion::parse(a)
            .unwrap()
            .cmp(&ComposerVersion::parse(b).unwrap())
    }

    #[test]
    fn orders_like_version_compare() {
        let ordered = [
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-alpha2",
            "1.0.0-beta",
            "1.0.0-beta2",
            "1.0.0-RC1",
            "1.0.0",
            "1.0.0-p1",
            "1.0.0-patch2",
            "1.0.1",
            "1.1",
            "1.10",
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(cmp("1.0", "1.0.0.0"), Ordering::Equal);
        assert_eq!(cmp("v2.3", "2.3.0"), Ordering::Equal);
        assert_eq!(cmp("1.0.0-beta.5+foo", "1.0.0-beta5"), Ordering::Equal);
    }
}
