//! HTML form bodies turned into the domain's requests (`tickets::SignoffRequest`,
//! `tickets::TransitionRequest`). A form arrives as name/value pairs; empty fields mean "not
//! given". Values outside a vocabulary are refused with a message naming the field, never
//! silently dropped. Whether a request is acceptable is the domain's call, not this module's.

use crate::tickets::{SignoffAction, SignoffRequest, TransitionRequest};
use crate::triage::ticket::Deferral;
use crate::triage::{ChangeEu, ChangeUs, RiskClass, TicketState};
use chrono::NaiveDate;

/// A decoded `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A checkbox: present (any value but "false") means ticked.
    fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "false")
    }
}

/// A form that cannot become a request; the message is shown next to the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

fn parsed<T>(
    f: &Fields,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, FormError> {
    match f.get(name) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| FormError(format!("{name}: {v:?} is not one of the allowed values"))),
    }
}

pub fn signoff_request(f: &Fields) -> Result<SignoffRequest, FormError> {
    let action = match f.get("action") {
        Some("confirm") => SignoffAction::Confirm,
        Some("override") => SignoffAction::Override,
        Some(other) => {
            return Err(FormError(format!(
                "action: {other:?} is neither confirm nor override"
            )))
        }
        None => return Err(FormError("choose confirm or override".into())),
    };
    Ok(SignoffRequest {
        action,
        // Required; the domain refuses a blank one with its own message.
        meaning: f.get("meaning").unwrap_or_default().to_string(),
        reason: f.get("reason").map(str::to_string),
        risk: parsed(f, "risk", RiskClass::parse)?,
        change_us: parsed(f, "change_us", ChangeUs::parse)?,
        change_eu: parsed(f, "change_eu", ChangeEu::parse)?,
        fsca: parsed(f, "fsca", |v| match v {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })?,
    })
}

fn state(v: &str) -> Option<TicketState> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).ok()
}

pub fn transition_request(f: &Fields) -> Result<TransitionRequest, FormError> {
    let to = parsed(f, "to", state)?.ok_or_else(|| FormError("choose a target state".into()))?;
    let deferral = match (f.get("deferral_rationale"), f.get("re_review")) {
        (None, None) => None,
        (rationale, re_review) => {
            let day = re_review
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| {
                    FormError("a deferral needs a re-review date (YYYY-MM-DD)".into())
                })?;
            Some(Deferral {
                rationale: rationale.unwrap_or_default().to_string(),
                re_review: day,
            })
        }
    };
    let flag = |name: &str| f.ticked(name).then_some(true);
    Ok(TransitionRequest {
        to,
        reason: f.get("reason").map(str::to_string),
        deferral,
        cr_approved_by: f.get("cr_approved_by").map(str::to_string),
        test_record: flag("test_record"),
        verification: None,
        risk_file_updated: flag("risk_file_updated"),
        trend_record_written: flag("trend_record_written"),
        not_affected_rationale: f.get("not_affected_rationale").map(str::to_string),
        notifications: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn signoff_fields_map_to_the_request() {
        let r = signoff_request(&fields(&[
            ("csrf", "x"),
            ("action", "confirm"),
            ("meaning", "  approved as risk owner "),
            ("reason", ""),
            ("risk", ""),
            ("change_us", ""),
            ("change_eu", ""),
            ("fsca", ""),
        ]))
        .unwrap();
        assert_eq!(r.action, SignoffAction::Confirm);
        assert_eq!(r.meaning, "approved as risk owner");
        assert!(r.reason.is_none() && r.risk.is_none() && r.fsca.is_none());
        assert!(r.change_us.is_none() && r.change_eu.is_none());

        let r = signoff_request(&fields(&[
            ("action", "override"),
            ("meaning", "approved as RA"),
            ("reason", "field data shows exposure X3"),
            ("risk", "uncontrolled"),
            ("change_us", "premarket_review"),
            ("change_eu", "significant"),
            ("fsca", "true"),
        ]))
        .unwrap();
        assert_eq!(r.risk, Some(RiskClass::Uncontrolled));
        assert_eq!(r.change_us, Some(ChangeUs::PremarketReview));
        assert_eq!(r.change_eu, Some(ChangeEu::Significant));
        assert_eq!(r.fsca, Some(true));
        assert_eq!(r.reason.as_deref(), Some("field data shows exposure X3"));

        assert!(signoff_request(&fields(&[("meaning", "m")])).is_err());
        assert!(signoff_request(&fields(&[("action", "approve")])).is_err());
        let e = signoff_request(&fields(&[("action", "override"), ("risk", "low")])).unwrap_err();
        assert!(e.0.contains("risk"), "{e}");
        assert!(signoff_request(&fields(&[("action", "override"), ("fsca", "maybe")])).is_err());
    }

    #[test]
    fn transition_fields_map_to_the_request() {
        let r =
            transition_request(&fields(&[("to", "APPLICABILITY_CHECK"), ("reason", "")])).unwrap();
        assert_eq!(r.to, TicketState::ApplicabilityCheck);
        assert!(r.reason.is_none() && r.deferral.is_none() && r.test_record.is_none());

        let r = transition_request(&fields(&[
            ("to", "DEFERRED"),
            ("deferral_rationale", "controlled; fix in 4.3"),
            ("re_review", "2026-09-01"),
            ("trend_record_written", "true"),
        ]))
        .unwrap();
        let d = r.deferral.unwrap();
        assert_eq!(d.rationale, "controlled; fix in 4.3");
        assert_eq!(d.re_review, NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
        assert_eq!(r.trend_record_written, Some(true));
        assert_eq!(r.risk_file_updated, None);

        assert!(transition_request(&fields(&[])).is_err());
        assert!(transition_request(&fields(&[("to", "DONE")])).is_err());
        assert!(transition_request(&fields(&[("to", "new")])).is_err());
        assert!(transition_request(&fields(&[
            ("to", "DEFERRED"),
            ("deferral_rationale", "x"),
            ("re_review", "next spring"),
        ]))
        .is_err());
    }
}
