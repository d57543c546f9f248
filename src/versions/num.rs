//! Unbounded natural numbers as version components: most fit a `u64`, longer digit runs (dates,
//! hashes mistaken for numbers) are kept as their digits so no input overflows or panics.

use std::cmp::Ordering;

/// A natural number parsed from ASCII digits, leading zeros dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Num {
    Small(u64),
    /// More than fits a `u64`: the digits without leading zeros (always longer than 19).
    Big(Box<str>),
}

impl Num {
    /// `digits` must be non-empty ASCII digits; anything else is the caller's bug and gives 0.
    pub(crate) fn from_digits(digits: &str) -> Num {
        let trimmed = digits.trim_start_matches('0');
        match trimmed.parse::<u64>() {
            Ok(n) => Num::Small(n),
            Err(_) if trimmed.is_empty() => Num::Small(0),
            Err(_) if trimmed.bytes().all(|b| b.is_ascii_digit()) => Num::Big(trimmed.into()),
            Err(_) => Num::Small(0),
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        matches!(self, Num::Small(0))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Num::Small(a), Num::Small(b)) => a.cmp(b),
            (Num::Small(_), Num::Big(_)) => Ordering::Less,
            (Num::Big(_), Num::Small(_)) => Ordering::Greater,
            (Num::Big(a), Num::Big(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::Num;

    #[test]
    fn big_numbers_order_by_value() {
        let a = Num::from_digits("18446744073709551615");
        let b = Num::from_digits("18446744073709551616");
        let c = Num::from_digits("000099999999999999999999");
        assert!(matches!(a, Num::Small(_)));
        assert!(matches!(b, Num::Big(_)));
        assert!(a < b && b < c);
        assert_eq!(Num::from_digits("000"), Num::Small(0));
        assert_eq!(Num::from_digits("007"), Num::Small(7));
    }
}
