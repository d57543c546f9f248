//! Maven version order: a port of `org.apache.maven.artifact.versioning.ComparableVersion` as in
//! apache/maven master (`compat/maven-artifact`, with `CombinationItem`, MNG-6964, MNG-7644 and
//! MNG-7714). A version is a tree of items: numbers, qualifier strings, letter+digit
//! combinations and sub-lists opened by `-` or by a letter/digit transition; qualifiers order
//! alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp < others
//! (lexically). Maven accepts almost any string; only over-long strings (Maven's own 256-char
//! limit) and non-ASCII decimal digits (Java parses them as digits, which we do not model) are
//! refused.

use super::num::Num;
use std::cmp::Ordering;

/// Maven's `MAX_VERSION_LENGTH`: longer strings throw `IllegalArgumentException`.
const MAX_VERSION_LENGTH: usize = 256;

/// A qualifier's place in the order: a known qualifier's index, or an unknown one after them all.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Qualifier {
    Known(u8),
    Unknown(Box<str>),
}

/// Index of the empty qualifier in `alpha, beta, milestone, rc, snapshot, "", sp`.
const RELEASE: u8 = 5;

impl Qualifier {
    fn new(value: &str, followed_by_digit: bool) -> Qualifier {
        let value = match (followed_by_digit, value) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "cr") => "rc",
            (_, v) => v,
        };
        match value {
            "alpha" => Qualifier::Known(0),
            "beta" => Qualifier::Known(1),
            "milestone" => Qualifier::Known(2),
            "rc" => Qualifier::Known(3),
            "snapshot" => Qualifier::Known(4),
            "" | "ga" | "final" | "release" => Qualifier::Known(RELEASE),
            "sp" => Qualifier::Known(6),
            other => Qualifier::Unknown(other.into()),
        }
    }

    /// Maven compares `comparableQualifier` strings: a digit for known ones, `"7-" + value` for
    /// unknown ones, with Java's UTF-16 string order.
    fn cmp_q(&self, other: &Qualifier) -> Ordering {
        match (self, other) {
            (Qualifier::Known(a), Qualifier::Known(b)) => a.cmp(b),
            (Qualifier::Known(_), Qualifier::Unknown(_)) => Ordering::Less,
            (Qualifier::Unknown(_), Qualifier::Known(_)) => Ordering::Greater,
            (Qualifier::Unknown(a), Qualifier::Unknown(b)) => {
                a.encode_utf16().cmp(b.encode_utf16())
            }
        }
    }

    fn cmp_release(&self) -> Ordering {
        self.cmp_q(&Qualifier::Known(RELEASE))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Num(Num),
    Str(Qualifier),
    /// A qualifier immediately followed by a number (`rc1`, `alpha-2`).
    Comb(Qualifier, Num),
    List(Vec<Item>),
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Num(n) => n.is_zero(),
            // `StringItem.isNull` means an empty string, which the parser never produces.
            Item::Str(_) => false,
            Item::Comb(..) => false,
            Item::List(l) => l.is_empty(),
        }
    }

    /// `compareTo(null)`: how this item compares with a missing one.
    fn cmp_none(&self) -> Ordering {
        match self {
            Item::Num(n) => {
                if n.is_zero() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Str(q) => q.cmp_release(),
            Item::Comb(q, n) => q.cmp_release().then_with(|| Item::num_cmp_none(n)),
            Item::List(l) => l
                .iter()
                .map(Item::cmp_none)
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn num_cmp_none(n: &Num) -> Ordering {
        if n.is_zero() {
            Ordering::Equal
        } else {
            Ordering::Greater
        }
    }

    fn cmp_item(&self, other: &Item) -> Ordering {
        use Item::*;
        match (self, other) {
            (Num(a), Num(b)) => a.cmp(b),
            (Num(_), _) => Ordering::Greater,
            (_, Num(_)) => Ordering::Less,

            (Str(a), Str(b)) => a.cmp_q(b),
            (Str(a), Comb(bq, bn)) => match a.cmp_q(bq) {
                Ordering::Equal if a.cmp_release().is_eq() => Item::num_cmp_none(bn).reverse(),
                Ordering::Equal => Ordering::Less,
                o => o,
            },
            (Comb(aq, an), Str(b)) => match aq.cmp_q(b) {
                Ordering::Equal if aq.cmp_release().is_eq() => Item::num_cmp_none(an),
                Ordering::Equal => Ordering::Greater,
                o => o,
            },
            (Comb(aq, an), Comb(bq, bn)) => aq.cmp_q(bq).then_with(|| an.cmp(bn)),

            (List(a), List(b)) => cmp_lists(a, b),
            (List(l), scalar) => Item::list_cmp_scalar(l, scalar),
            (scalar, List(l)) => Item::list_cmp_scalar(l, scalar).reverse(),
        }
    }

    /// `ListItem.compareTo` a string or combination item.
    fn list_cmp_scalar(list: &[Item], scalar: &Item) -> Ordering {
        let mut result = match list.first() {
            None => scalar.cmp_none().reverse(),
            Some(first) => first.cmp_item(scalar),
        };
        for item in list.iter().skip(1) {
            if result.is_ne() {
                break;
            }
            result = item.cmp_none();
        }
        result
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub(crate) struct MavenVersion {
    items: Vec<Item>,
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for MavenVersion {}
impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}
impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    let len = a.len().max(b.len());
    for i in 0..len {
        let o = match (a.get(i), b.get(i)) {
            (Some(l), Some(r)) => l.cmp_item(r),
            (Some(l), None) => l.cmp_none(),
            (None, Some(r)) => r.cmp_none().reverse(),
            (None, None) => Ordering::Equal,
        };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

/// While parsing, lists live in an arena so that the "current list" can change without borrowing
/// trouble; `Child(i)` points at list `i`.
enum Tmp {
    Item(Item),
    Child(usize),
}

fn parse_item(is_combination: bool, is_digit: bool, buf: &str) -> Item {
    if is_combination {
        let value: String = buf.chars().filter(|&c| c != '-').collect();
        let index = value.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let (letters, digits) = value.split_at(index);
        Item::Comb(Qualifier::new(letters, true), Num::from_digits(digits))
    } else if is_digit {
        Item::Num(Num::from_digits(buf))
    } else {
        Item::Str(Qualifier::new(buf, false))
    }
}

impl MavenVersion {
    pub(crate) fn parse(version: &str) -> Result<MavenVersion, String> {
        if version.encode_utf16().count() > MAX_VERSION_LENGTH {
            return Err(format!(
                "longer than Maven's {MAX_VERSION_LENGTH} characters"
            ));
        }
        if version
            .chars()
            .any(|c| c.is_numeric() && !c.is_ascii_digit() && c.is_alphanumeric())
        {
            return Err("non-ASCII digits are not supported".into());
        }
        let lower = version.to_lowercase();
        let chars: Vec<(usize, char)> = lower.char_indices().collect();
        let byte_at = |i: usize| chars.get(i).map_or(lower.len(), |&(b, _)| b);
        let substr = |from: usize, to: usize| &lower[byte_at(from)..byte_at(to)];

        let mut lists: Vec<Vec<Tmp>> = vec![Vec::new()];
        let mut cur = 0usize;
        let mut is_digit = false;
        let mut is_combination = false;
        let mut start = 0usize;
        let n = chars.len();

        let open_child = |lists: &mut Vec<Vec<Tmp>>, cur: &mut usize| {
            let idx = lists.len();
            lists.push(Vec::new());
            if let Some(l) = lists.get_mut(*cur) {
                l.push(Tmp::Child(idx));
            }
            *cur = idx;
        };
        let push = |lists: &mut Vec<Vec<Tmp>>, cur: usize, item: Item| {
            if let Some(l) = lists.get_mut(cur) {
                l.push(Tmp::Item(item));
            }
        };
        let cur_empty =
            |lists: &Vec<Vec<Tmp>>, cur: usize| lists.get(cur).is_none_or(Vec::is_empty);

        let mut i = 0usize;
        while i < n {
            let c = chars.get(i).map_or('\0', |&(_, c)| c);
            if c == '.' {
                if i == start {
                    push(&mut lists, cur, Item::Num(Num::Small(0)));
                } else {
                    push(
                        &mut lists,
                        cur,
                        parse_item(is_combination, is_digit, substr(start, i)),
                    );
                }
                is_combination = false;
                start = i + 1;
            } else if c == '-' {
                if i == start {
                    push(&mut lists, cur, Item::Num(Num::Small(0)));
                } else {
                    // X-1 is treated as X1.
                    if !is_digit && i != n - 1 {
                        let next = chars.get(i + 1).map_or('\0', |&(_, c)| c);
                        if next.is_ascii_digit() {
                            is_combination = true;
                            i += 1;
                            continue;
                        }
                    }
                    push(
                        &mut lists,
                        cur,
                        parse_item(is_combination, is_digit, substr(start, i)),
                    );
                }
                start = i + 1;
                if !cur_empty(&lists, cur) {
                    open_child(&mut lists, &mut cur);
                }
                is_combination = false;
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    is_combination = true;
                    if !cur_empty(&lists, cur) {
                        open_child(&mut lists, &mut cur);
                    }
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    push(
                        &mut lists,
                        cur,
                        parse_item(is_combination, true, substr(start, i)),
                    );
                    start = i;
                    open_child(&mut lists, &mut cur);
                    is_combination = false;
                }
                is_digit = false;
            }
            i += 1;
        }
        if n > start {
            // 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X.
            if !is_digit && !cur_empty(&lists, cur) {
                open_child(&mut lists, &mut cur);
            }
            push(
                &mut lists,
                cur,
                parse_item(is_combination, is_digit, substr(start, n)),
            );
        }

        // Lists were created nested, each inside the previous one, so building from the deepest
        // up normalizes children before their parents, as Maven's stack does.
        let mut built: Vec<Option<Vec<Item>>> = (0..lists.len()).map(|_| None).collect();
        for idx in (0..lists.len()).rev() {
            let tmp = std::mem::take(lists.get_mut(idx).ok_or("internal list index")?);
            let mut items = Vec::with_capacity(tmp.len());
            for t in tmp {
                match t {
                    Tmp::Item(it) => items.push(it),
                    Tmp::Child(c) => {
                        let child = built
                            .get_mut(c)
                            .and_then(Option::take)
                            .ok_or("internal list order")?;
                        items.push(Item::List(child));
                    }
                }
            }
            normalize(&mut items);
            if let Some(slot) = built.get_mut(idx) {
                *slot = Some(items);
            }
        }
        let items = built.into_iter().next().flatten().unwrap_or_default();
        Ok(MavenVersion { items })
    }
}

/// `ListItem.normalize`: drop null items (zeros, empty lists) that end the list or precede a
/// qualifier, then unwrap a list left holding a single sub-list.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        let null = items.get(i).is_some_and(Item::is_null);
        if !null {
            continue;
        }
        let remove = match items.get(i + 1) {
            None => true,
            Some(Item::Str(_)) => true,
            Some(Item::List(l)) => matches!(l.first(), Some(Item::Comb(..)) | Some(Item::Str(_))),
            Some(_) => false,
        };
        if remove {
            items.remove(i);
        }
    }
    if items.len() == 1 && matches!(items.first(), Some(Item::List(_))) {
        if let Some(Item::List(inner)) = items.pop() {
            *items = inner;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MavenVersion;
    use std::cmp::Ordering;

    fn cmp(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a)
            .unwrap()
            .cmp(&MavenVersion::parse(b).unwrap())
    }

    fn check_order(versions: &[&str]) {
        for i in 1..versions.len() {
            for j in i..versions.len() {
                let (lo, hi) = (versions[i - 1], versions[j]);
                assert_eq!(cmp(lo, hi), Ordering::Less, "expected {lo} < {hi}");
                assert_eq!(cmp(hi, lo), Ordering::Greater, "expected {hi} > {lo}");
            }
        }
    }

    fn check_equal(a: &str, b: &str) {
        assert_eq!(cmp(a, b), Ordering::Equal, "expected {a} == {b}");
        assert_eq!(cmp(b, a), Ordering::Equal, "expected {b} == {a}");
    }

    // The cases below are apache/maven's ComparableVersionTest (compat/maven-artifact).
    #[test]
    fn versions_qualifier() {
        check_order(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn versions_number() {
        check_order(&[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
            "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11",
            "11", "11.a", "11b", "11c", "11m",
        ]);
    }

    #[test]
    fn versions_equal() {
        for (a, b) in [
            ("1", "1"),
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.0-0"),
            ("1.0", "1.0-0"),
            ("1a", "1-a"),
            ("1a", "1.0-a"),
            ("1a", "1.0.0-a"),
            ("1.0a", "1-a"),
            ("1.0.0a", "1-a"),
            ("1x", "1-x"),
            ("1x", "1.0-x"),
            ("1x", "1.0.0-x"),
            ("1.0x", "1-x"),
            ("1.0.0x", "1-x"),
            ("1cr", "1rc"),
            ("1a1", "1-alpha-1"),
            ("1b2", "1-beta-2"),
            ("1m3", "1-milestone-3"),
            ("1X", "1x"),
            ("1A", "1a"),
            ("1B", "1b"),
            ("1M", "1m"),
            ("1Cr", "1Rc"),
            ("1cR", "1rC"),
            ("1m3", "1Milestone3"),
            ("1m3", "1MileStone3"),
            ("1m3", "1MILESTONE3"),
            // same order though not structurally equal
            ("1ga", "1"),
            ("1release", "1"),
            ("1final", "1"),
            ("1Ga", "1"),
            ("1GA", "1"),
            ("1RELEASE", "1"),
            ("1RELeaSE", "1"),
            ("1Final", "1"),
            ("1FinaL", "1"),
            ("1FINAL", "1"),
            (
                "1-abcdefghijklmnopqrstuvwxyz",
                "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            ),
            ("1.0.0-alpha1", "1.0.0-ALPHA1"),
            ("1.a", "1.A"),
            ("1.é", "1.É"),
        ] {
            check_equal(a, b);
        }
    }

    #[test]
    fn version_comparing() {
        for (a, b) in [
            ("1", "2"),
            ("1.5", "2"),
            ("1", "2.5"),
            ("1.0", "1.1"),
            ("1.1", "1.2"),
            ("1.0.0", "1.1"),
            ("1.0.1", "1.1"),
            ("1.1", "1.2.0"),
            ("1.0-alpha-1", "1.0"),
            ("1.0-alpha-1", "1.0-alpha-2"),
            ("1.0-alpha-1", "1.0-beta-1"),
            ("1.0-beta-1", "1.0-SNAPSHOT"),
            ("1.0-SNAPSHOT", "1.0"),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0.0", "1.0-1"),
            ("2.0-1", "2.0.1"),
            ("2.0.1-klm", "2.0.1-lmn"),
            ("2.0.1", "2.0.1-xyz"),
            ("2.0.1", "2.0.1-123"),
            ("2.0.1-xyz", "2.0.1-123"),
            ("0.7", "2"),
            ("0.2", "1.0.7"),
            ("J", "7"),
            ("c", "7"),
            ("aardvark", "zebra"),
            ("zebra", "ζέβρα"),
            // MNG-5568
            ("6.1.0rc3", "6.1.0"),
            ("6.1.0rc3", "6.1H.5-beta"),
            ("6.1.0", "6.1H.5-beta"),
            // MNG-6572
            ("20190126.230843", "1234567890.12345"),
            ("1234567890.12345", "123456789012345.1H.5-beta"),
            (
                "123456789012345.1H.5-beta",
                "12345678901234567890.1H.5-beta",
            ),
            ("20190126.230843", "12345678901234567890.1H.5-beta"),
            // MNG-6964
            ("1-0.alpha", "1"),
            ("1-0.beta", "1"),
            ("1-0.alpha", "1-0.beta"),
            // MNG-7714
            ("1.0.final-redhat", "1.0-sp1-redhat"),
            ("1.0.final-redhat", "1.0-sp-1-redhat"),
            ("1.0.final-redhat", "1.0-sp.1-redhat"),
        ] {
            check_order(&[a, b]);
        }
    }

    #[test]
    fn leading_zeroes() {
        let ones: Vec<String> = (1..=19)
            .map(|n| format!("{}1", "0".repeat(n - 1)))
            .collect();
        let zeros: Vec<String> = (1..=19).map(|n| "0".repeat(n)).collect();
        for set in [ones, zeros] {
            for a in &set {
                for b in &set {
                    check_equal(a, b);
                }
            }
        }
    }

    #[test]
    fn mng_7644() {
        for x in [
            "abc",
            "alpha",
            "a",
            "beta",
            "b",
            "def",
            "milestone",
            "m",
            "RC",
        ] {
            check_order(&[&format!("1.0.0.{x}1"), &format!("1.0.0-{x}2")]);
            check_equal(&format!("2-{x}"), &format!("2.0.{x}"));
            check_equal(&format!("2-{x}"), &format!("2.0.0.{x}"));
            check_equal(&format!("2.0.{x}"), &format!("2.0.0.{x}"));
        }
    }

    #[test]
    fn refuses_only_what_maven_refuses() {
        assert!(MavenVersion::parse(&"1.".repeat(200)).is_err());
        for odd in ["", "-", ".", "--..--", "1..2", "a-", "-1", "é", "1.0-"] {
            assert!(MavenVersion::parse(odd).is_ok(), "{odd:?}");
        }
    }
}
