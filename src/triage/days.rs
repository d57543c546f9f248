//! Deadline arithmetic for notification clocks: calendar days, working days (Monday to Friday)
//! and the EU vigilance reading (calendar days, a deadline on a weekend moving to the next
//! Monday). Public holidays are not modelled: no calendar of holidays is given to the rules, so
//! a deadline can fall on a holiday and the ticket shows it as computed. Pure date arithmetic.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// How a rule counts the days of its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Every day counts (FDA "days", MDR Art. 87 periods before the weekend roll).
    Calendar,
    /// Only Monday to Friday count (21 CFR 806.10 "working days", 803.53 "work days").
    /// Holidays are not modelled.
    Working,
    /// Calendar days, but a deadline falling on Saturday or Sunday moves to the next Monday
    /// (MDCG 2023-3 Q14/Q15 reading of Reg. 1182/71 Art. 3 for MDR vigilance periods).
    CalendarNextWorkingDay,
}

impl DayKind {
    /// The spelling used in the rules file and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Calendar => "calendar",
            DayKind::Working => "working",
            DayKind::CalendarNextWorkingDay => "calendar_next_working_day",
        }
    }

    /// Parses the rules-file spelling.
    pub fn parse(text: &str) -> Option<DayKind> {
        match text {
            "calendar" => Some(DayKind::Calendar),
            "working" => Some(DayKind::Working),
            "calendar_next_working_day" => Some(DayKind::CalendarNextWorkingDay),
            _ => None,
        }
    }
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The day `days` after `from` (day 0 is `from` itself, the awareness date).
///
/// * `Calendar`: `from + days`.
/// * `Working`: steps forward one day at a time and counts only Monday to Friday, so 10
///   working days from a Monday is the Friday of the following week; 0 working days is `from`.
/// * `CalendarNextWorkingDay`: `from + days`, then moved to Monday if it is a Saturday or Sunday.
///
/// Saturates at the largest representable date instead of panicking.
pub fn add_days(from: NaiveDate, days: u32, kind: DayKind) -> NaiveDate {
    match kind {
        DayKind::Calendar => from
            .checked_add_days(Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MAX),
        DayKind::Working => {
            let mut day = from;
            let mut left = days;
            while left > 0 {
                match day.succ_opt() {
                    Some(next) => day = next,
                    None => return NaiveDate::MAX,
                }
                if !is_weekend(day) {
                    left -= 1;
                }
            }
            day
        }
        DayKind::CalendarNextWorkingDay => {
            let mut day = add_days(from, days, DayKind::Calendar);
            while is_weekend(day) {
                match day.succ_opt() {
                    Some(next) => day = next,
                    None => return NaiveDate::MAX,
                }
            }
            day
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn calendar_days_cross_month_and_year_ends() {
        // 2025-12-20 + 30 days: 11 days left in December, 19 into January.
        assert_eq!(
            add_days(d(2025, 12, 20), 30, DayKind::Calendar),
            d(2026, 1, 19)
        );
        // leap year: 2028-02-28 + 1 is the 29th, + 2 is 1 March
        assert_eq!(
            add_days(d(2028, 2, 28), 1, DayKind::Calendar),
            d(2028, 2, 29)
        );
        assert_eq!(
            add_days(d(2028, 2, 28), 2, DayKind::Calendar),
            d(2028, 3, 1)
        );
        assert_eq!(
            add_days(d(2026, 2, 28), 1, DayKind::Calendar),
            d(2026, 3, 1)
        );
        assert_eq!(add_days(d(2026, 3, 6), 0, DayKind::Calendar), d(2026, 3, 6));
        // calendar days ignore weekends: Friday + 1 is Saturday
        assert_eq!(add_days(d(2026, 3, 6), 1, DayKind::Calendar), d(2026, 3, 7));
    }

    #[test]
    fn working_days_skip_weekends() {
        // Monday 2 March 2026 + 10 working days = Monday 16 March (two full weeks).
        assert_eq!(d(2026, 3, 2).weekday(), Weekday::Mon);
        assert_eq!(
            add_days(d(2026, 3, 2), 10, DayKind::Working),
            d(2026, 3, 16)
        );
        // Friday + 1 working day = Monday
        assert_eq!(add_days(d(2026, 3, 6), 1, DayKind::Working), d(2026, 3, 9));
        // Saturday + 1 working day = Monday, Sunday + 5 = Friday
        assert_eq!(add_days(d(2026, 3, 7), 1, DayKind::Working), d(2026, 3, 9));
        assert_eq!(add_days(d(2026, 3, 8), 5, DayKind::Working), d(2026, 3, 13));
        // zero working days stays put, even on a weekend ("immediately")
        assert_eq!(add_days(d(2026, 3, 7), 0, DayKind::Working), d(2026, 3, 7));
    }

    #[test]
    fn working_days_cross_year_end() {
        // Wed 24 Dec 2025 + 5 working days: 25, 26 (Thu, Fri), 29, 30, 31 (Mon-Wed) -> 31 Dec.
        assert_eq!(
            add_days(d(2025, 12, 24), 5, DayKind::Working),
            d(2025, 12, 31)
        );
        // + 6 -> Thu 1 Jan 2026 (holidays are not modelled)
        assert_eq!(
            add_days(d(2025, 12, 24), 6, DayKind::Working),
            d(2026, 1, 1)
        );
        // Fri 30 Jan 2026 + 1 working day crosses the month end and a weekend -> Mon 2 Feb
        assert_eq!(add_days(d(2026, 1, 30), 1, DayKind::Working), d(2026, 2, 2));
    }

    #[test]
    fn eu_reading_moves_weekend_deadlines_to_monday() {
        // Thu 5 Mar 2026 + 2 = Sat 7 Mar -> Mon 9 Mar
        assert_eq!(
            add_days(d(2026, 3, 5), 2, DayKind::CalendarNextWorkingDay),
            d(2026, 3, 9)
        );
        // Thu 5 Mar + 3 = Sun 8 -> Mon 9
        assert_eq!(
            add_days(d(2026, 3, 5), 3, DayKind::CalendarNextWorkingDay),
            d(2026, 3, 9)
        );
        // Mon 2 Mar + 15 = Tue 17 Mar, a weekday: unchanged
        assert_eq!(
            add_days(d(2026, 3, 2), 15, DayKind::CalendarNextWorkingDay),
            d(2026, 3, 17)
        );
        // Mon 22 Dec 2025 + 12 = Sat 3 Jan 2026 -> Mon 5 Jan 2026
        assert_eq!(
            add_days(d(2025, 12, 22), 12, DayKind::CalendarNextWorkingDay),
            d(2026, 1, 5)
        );
    }

    #[test]
    fn never_panics_at_the_end_of_time() {
        assert_eq!(
            add_days(NaiveDate::MAX, 5, DayKind::Calendar),
            NaiveDate::MAX
        );
        assert_eq!(
            add_days(NaiveDate::MAX, 5, DayKind::Working),
            NaiveDate::MAX
        );
        assert_eq!(
            add_days(NaiveDate::MAX, 5, DayKind::CalendarNextWorkingDay),
            NaiveDate::MAX
        );
    }

    #[test]
    fn spellings_round_trip() {
        for kind in [
            DayKind::Calendar,
            DayKind::Working,
            DayKind::CalendarNextWorkingDay,
        ] {
            assert_eq!(DayKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DayKind::parse("business"), None);
    }
}
