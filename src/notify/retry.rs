//! What one attempt does to a delivery, pure: success marks it delivered; a failure records the
//! error and the server's answer and schedules the next attempt with exponential backoff and
//! jitter, until the route's `max_attempts` make it dead (the dead-letter list). The jitter is
//! passed in, so the arithmetic is testable; the worker draws it from the OS.

use super::config::RetryPolicy;
use crate::store::{Delivery, DeliveryStatus};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Wait after the `attempts`-th failure: base * 2^(attempts-1), scaled by 0.5-1.5 with `jitter`
/// in [0, 1] (so retries of many deliveries that failed together spread out), capped at the
/// route's `max_backoff_ms`.
pub fn backoff(policy: &RetryPolicy, attempts: u32, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let raw = policy.backoff.saturating_mul(1u32 << exp);
    let scale = 0.5 + jitter.clamp(0.0, 1.0);
    raw.mul_f64(scale).min(policy.max_backoff)
}

/// A number in [0, 1] from the OS (0.5 if it cannot give one).
pub fn jitter() -> f64 {
    getrandom::u32()
        .map(|r| f64::from(r) / f64::from(u32::MAX))
        .unwrap_or(0.5)
}

/// Records a successful attempt. An earlier `last_error` is kept as history.
pub fn succeeded(d: &mut Delivery, response: String, now: DateTime<Utc>) {
    d.attempts = d.attempts.saturating_add(1);
    d.status = DeliveryStatus::Delivered;
    d.delivered_at = Some(now);
    d.last_response = Some(response);
}

/// Records a failed attempt: dead after `max_attempts`, else due again after the backoff. A
/// digest delivery stays in the digest (its retry is the digest's retry).
pub fn failed(
    d: &mut Delivery,
    error: String,
    response: Option<String>,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
    jitter: f64,
) {
    d.attempts = d.attempts.saturating_add(1);
    d.last_error = Some(error);
    d.last_response = response;
    if d.attempts >= policy.max_attempts {
        d.status = DeliveryStatus::Dead;
        return;
    }
    let wait = chrono::Duration::from_std(backoff(policy, d.attempts, jitter))
        .unwrap_or(chrono::Duration::hours(6));
    d.next_attempt_at = now
        .checked_add_signed(wait)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
}

/// A delivery that can never be sent (its route or event is gone): dead at once, with why.
pub fn undeliverable(d: &mut Delivery, why: String) {
    d.status = DeliveryStatus::Dead;
    d.last_error = Some(why);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        let t: DateTime<Utc> = "2024-05-01T10:00:00Z".parse().unwrap();
        Delivery {
            id: "1-r".into(),
            event_seq: 1,
            route: "r".into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: t,
            last_error: None,
            last_response: None,
            delivered_at: None,
            created_at: t,
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        backoff: Duration::from_secs(30),
        max_backoff: Duration::from_secs(3600),
    };

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        assert_eq!(backoff(&POLICY, 1, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(&POLICY, 2, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(&POLICY, 3, 0.5), Duration::from_secs(120));
        assert_eq!(backoff(&POLICY, 3, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(&POLICY, 3, 1.0), Duration::from_secs(180));
        assert_eq!(
            backoff(&POLICY, 3, 7.0),
            Duration::from_secs(180),
            "jitter is clamped"
        );
        assert_eq!(backoff(&POLICY, 40, 1.0), POLICY.max_backoff);
        assert_eq!(backoff(&POLICY, u32::MAX, 1.0), POLICY.max_backoff);
        assert_eq!(
            backoff(&POLICY, 8, 0.5),
            POLICY.max_backoff,
            "30 s * 2^7 = 64 min > 1 h"
        );
        let j = jitter();
        assert!((0.0..=1.0).contains(&j));
    }

    #[test]
    fn failures_back_off_then_die_at_max_attempts() {
        let now: DateTime<Utc> = "2024-05-01T11:00:00Z".parse().unwrap();
        let mut d = delivery();
        failed(
            &mut d,
            "HTTP 500".into(),
            Some("500 oops".into()),
            &POLICY,
            now,
            0.5,
        );
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 1));
        assert_eq!(d.next_attempt_at, now + chrono::Duration::seconds(30));
        assert_eq!(d.last_response.as_deref(), Some("500 oops"));
        failed(&mut d, "timed out".into(), None, &POLICY, now, 0.5);
        assert_eq!(d.next_attempt_at, now + chrono::Duration::seconds(60));
        assert_eq!(d.last_response, None);
        failed(&mut d, "HTTP 500".into(), None, &POLICY, now, 0.5);
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Dead, 3));

        let mut g = delivery();
        g.status = DeliveryStatus::Digest;
        failed(&mut g, "x".into(), None, &POLICY, now, 0.5);
        assert_eq!(g.status, DeliveryStatus::Digest);
    }

    #[test]
    fn success_counts_the_attempt_and_keeps_the_history() {
        let now: DateTime<Utc> = "2024-05-01T11:00:00Z".parse().unwrap();
        let mut d = delivery();
        failed(&mut d, "HTTP 500".into(), None, &POLICY, now, 0.5);
        succeeded(&mut d, "HTTP 200".into(), now);
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 2));
        assert_eq!(d.delivered_at, Some(now));
        assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(d.last_response.as_deref(), Some("HTTP 200"));
    }
}
