//! Problem-resolution tickets (IEC 62304 clause 9): one per (vulnerability alias group,
//! product), listing every affected release with its own applicability, so a decision is made
//! once. Triage turns active findings into the ticket's triage input (signals, SOUP record,
//! device record), evaluates the regulatory rules (pure, `triage`), and stores the provisional
//! decision with the rules' SHA-256, the rule trace and the record revisions it used. Nothing
//! provisional becomes final without a reviewer's signoff; lifecycle transitions pass the guards
//! of `triage::ticket`. Every write is audited and carries its outbox events.

mod triage_pass;

pub use triage_pass::{triage_pending, watch_deadlines, TriageRun};

use crate::store::{EventKind, EventRecord, Store, StoreError};
use crate::triage::ticket::{Deferral, NotificationState, NotificationTask, Verification};
use crate::triage::{
    ChangeEu, ChangeUs, Decision, GuardContext, GuardError, RiskClass, TicketState, TriageInput,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketComponent {
    pub index: usize,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    /// The SOUP record covering it (id and revision), if any.
    pub soup_id: Option<String>,
    pub soup_revision: Option<u32>,
}

/// One release of the product and whether the vulnerability applies to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRelease {
    pub release: String,
    /// True while the release has an active finding for the vulnerability.
    pub applicable: bool,
    pub components: Vec<TicketComponent>,
    /// Advisory records that matched (evidence lives on the findings).
    pub advisories: Vec<String>,
    /// A reviewer's per-release override of the ticket-wide decision.
    pub override_reason: Option<String>,
}

/// A notification sub-task with its deadline and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketNotification {
    pub rule: String,
    pub recipient: String,
    pub deadline: NaiveDate,
    pub basis: String,
    pub source: String,
    pub note: String,
    pub state: NotificationState,
    pub rationale: Option<String>,
    /// Reminder marks already raised (`half`, `3d`, `1d`, `overdue`), so each fires once.
    #[serde(default)]
    pub reminded: Vec<String>,
}

impl TicketNotification {
    /// Still to be done: not sent, acknowledged or waived.
    pub fn is_open(&self) -> bool {
        !matches!(
            self.state,
            NotificationState::Sent
                | NotificationState::Acknowledged
                | NotificationState::NotRequired
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignoffAction {
    /// The provisional risk and classifications are right.
    Confirm,
    /// The reviewer replaces some of them (with a reason).
    Override,
}

/// A reviewer's electronic signature over exactly what was shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signoff {
    pub by: String,
    pub at: DateTime<Utc>,
    pub action: SignoffAction,
    /// What the signature means, e.g. "approved as risk owner" (21 CFR 11.50).
    pub meaning: String,
    pub reason: Option<String>,
    pub risk: RiskClass,
    pub change_us: ChangeUs,
    pub change_eu: ChangeEu,
    pub fsca: bool,
    /// SHA-256 of the canonical JSON of exactly what was signed (ticket id and version, the
    /// provisional decision with its rules SHA-256, and the confirmed values).
    pub signed_sha256: String,
}

/// Lifecycle facts the guards read, set through transitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub deferral: Option<Deferral>,
    pub cr_approved_by: Option<String>,
    pub test_record: bool,
    pub verification: Verification,
    pub risk_file_updated: bool,
    pub trend_record_written: bool,
    pub reopen_reason: Option<String>,
    pub not_affected_rationale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// `{product}:{vulnerability}`.
    pub id: String,
    /// Bumped on every write (optimistic locking).
    pub version: u64,
    pub product: String,
    /// The alias group id.
    pub vulnerability: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub state: TicketState,
    /// First awareness: every deadline counts from here.
    pub awareness_date: NaiveDate,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub releases: Vec<TicketRelease>,
    /// The device record revision the decision used (None: missing, defaults applied).
    pub device_revision: Option<u32>,
    /// Exactly what the rules evaluated.
    pub input: TriageInput,
    /// The provisional decision: priority, risk, change classifications, FSCA, notifications,
    /// trace, rules SHA-256 and version, assumptions.
    pub decision: Decision,
    pub notifications: Vec<TicketNotification>,
    pub signoffs: Vec<Signoff>,
    #[serde(default)]
    pub facts: Facts,
    /// Open work the decision depends on (e.g. "SOUP record missing for guava 24.1.1-jre").
    pub tasks: Vec<String>,
}

impl Ticket {
    pub fn id_for(product: &str, group: &str) -> String {
        format!("{product}:{group}")
    }

    /// The latest signoff, if it still applies to the current decision.
    pub fn current_signoff(&self) -> Option<&Signoff> {
        self.signoffs
            .last()
            .filter(|s| s.signed_sha256 == signed_hash(self, s))
    }

    fn guard_context(&self) -> GuardContext {
        let signed = self.current_signoff();
        GuardContext {
            risk: Some(signed.map_or(self.decision.risk, |s| s.risk)),
            risk_signed_off: signed.is_some(),
            regulatory_signed_off: signed.is_some(),
            not_affected_signed_off: signed.is_some()
                && self.facts.not_affected_rationale.is_some(),
            fsca: signed.map_or(self.decision.fsca, |s| s.fsca),
            notifications: self
                .notifications
                .iter()
                .map(|n| NotificationTask {
                    rule: n.rule.clone(),
                    state: n.state,
                    rationale: n.rationale.clone(),
                })
                .collect(),
            deferral: self.facts.deferral.clone(),
            cr_approved_by: self.facts.cr_approved_by.clone(),
            test_record: self.facts.test_record,
            verification: self.facts.verification,
            risk_file_updated: self.facts.risk_file_updated,
            trend_record_written: self.facts.trend_record_written,
            reopen_reason: self.facts.reopen_reason.clone(),
        }
    }

    /// Some open notification is past its deadline.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.overdue_notifications(today) > 0
    }

    pub fn overdue_notifications(&self, today: NaiveDate) -> usize {
        self.notifications
            .iter()
            .filter(|n| n.is_open() && n.deadline < today)
            .count()
    }

    /// The earliest deadline among the open notifications.
    pub fn next_deadline(&self) -> Option<NaiveDate> {
        self.notifications
            .iter()
            .filter(|n| n.is_open())
            .map(|n| n.deadline)
            .min()
    }

    pub(crate) fn event(&self, kind: EventKind, title: String) -> EventRecord {
        EventRecord {
            seq: 0,
            at: Utc::now(),
            kind,
            product: Some(self.product.clone()),
            priority: Some(self.decision.priority.as_str().to_string()),
            subject: self.vulnerability.clone(),
            title,
            payload: serde_json::json!({
                "ticket": self.id,
                "product": self.product,
                "vulnerability": self.vulnerability,
                "aliases": self.aliases,
                "summary": self.summary,
                "state": self.state,
                "priority": self.decision.priority.as_str(),
                "risk": self.decision.risk.as_str(),
                "change_us": self.decision.change_us,
                "change_eu": self.decision.change_eu,
                "releases": self.releases.iter().filter(|r| r.applicable).map(|r| &r.release).collect::<Vec<_>>(),
                "notifications": self.notifications,
                "trace": self.decision.trace,
                "rules_sha256": self.decision.rules_sha256,
            }),
        }
    }
}

/// What a signature covers, hashed: the ticket's identity, the provisional decision it was shown
/// (with the rules' SHA-256) and the values it confirmed.
fn signed_hash(t: &Ticket, s: &Signoff) -> String {
    let body = serde_json::json!({
        "ticket": t.id,
        "vulnerability": t.vulnerability,
        "decision": {
            "priority": t.decision.priority.as_str(), "risk": t.decision.risk, "change_us": t.decision.change_us,
            "change_eu": t.decision.change_eu, "fsca": t.decision.fsca, "rules_sha256": t.decision.rules_sha256,
        },
        "releases": t.releases.iter().filter(|r| r.applicable).map(|r| &r.release).collect::<Vec<_>>(),
        "confirmed": {"risk": s.risk, "change_us": s.change_us, "change_eu": s.change_eu, "fsca": s.fsca},
        "meaning": s.meaning,
        "by": s.by,
    });
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("no ticket {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A reviewer's signoff request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignoffRequest {
    pub action: SignoffAction,
    pub meaning: String,
    pub reason: Option<String>,
    pub risk: Option<RiskClass>,
    pub change_us: Option<ChangeUs>,
    pub change_eu: Option<ChangeEu>,
    pub fsca: Option<bool>,
}

pub fn sign_off(
    store: &Store,
    id: &str,
    req: &SignoffRequest,
    by: &str,
) -> Result<Ticket, TicketError> {
    let mut t = store
        .ticket(id)?
        .ok_or_else(|| TicketError::NotFound(id.to_string()))?;
    if req.meaning.trim().is_empty() {
        return Err(TicketError::Invalid(
            "a signoff needs the meaning of the signature".into(),
        ));
    }
    let overrides = req.risk.is_some()
        || req.change_us.is_some()
        || req.change_eu.is_some()
        || req.fsca.is_some();
    match req.action {
        SignoffAction::Confirm if overrides => {
            return Err(TicketError::Invalid(
                "confirm takes no overriding values; use action override".into(),
            ))
        }
        SignoffAction::Override if !overrides => {
            return Err(TicketError::Invalid(
                "override needs at least one of risk, change_us, change_eu, fsca".into(),
            ))
        }
        SignoffAction::Override if req.reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
            return Err(TicketError::Invalid("an override needs a reason".into()))
        }
        _ => {}
    }
    let mut s = Signoff {
        by: by.to_string(),
        at: Utc::now(),
        action: req.action,
        meaning: req.meaning.trim().to_string(),
        reason: req.reason.clone(),
        risk: req.risk.unwrap_or(t.decision.risk),
        change_us: req.change_us.unwrap_or(t.decision.change_us),
        change_eu: req.change_eu.unwrap_or(t.decision.change_eu),
        fsca: req.fsca.unwrap_or(t.decision.fsca),
        signed_sha256: String::new(),
    };
    s.signed_sha256 = signed_hash(&t, &s);
    let old_version = t.version;
    t.signoffs.push(s);
    t.version += 1;
    t.updated_at = Utc::now();
    store.put_ticket(
        &t,
        Some(old_version),
        (by, "ticket.signoff", req.reason.as_deref()),
        &[],
    )?;
    Ok(t)
}

/// A transition request: the target state plus the lifecycle facts it may need.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: TicketState,
    pub reason: Option<String>,
    pub deferral: Option<Deferral>,
    pub cr_approved_by: Option<String>,
    pub test_record: Option<bool>,
    pub verification: Option<Verification>,
    pub risk_file_updated: Option<bool>,
    pub trend_record_written: Option<bool>,
    pub not_affected_rationale: Option<String>,
    /// Notification sub-task updates: rule id -> new state (and rationale for NOT_REQUIRED).
    #[serde(default)]
    pub notifications: Vec<NotificationTask>,
}

pub fn transition(
    store: &Store,
    id: &str,
    req: &TransitionRequest,
    by: &str,
) -> Result<Ticket, TicketError> {
    let mut t = store
        .ticket(id)?
        .ok_or_else(|| TicketError::NotFound(id.to_string()))?;
    let old_version = t.version;
    if let Some(d) = &req.deferral {
        t.facts.deferral = Some(d.clone());
    }
    if let Some(v) = &req.cr_approved_by {
        t.facts.cr_approved_by = Some(v.clone());
    }
    if let Some(v) = req.test_record {
        t.facts.test_record = v;
    }
    if let Some(v) = req.verification {
        t.facts.verification = v;
    }
    if let Some(v) = req.risk_file_updated {
        t.facts.risk_file_updated = v;
    }
    if let Some(v) = req.trend_record_written {
        t.facts.trend_record_written = v;
    }
    if let Some(v) = &req.not_affected_rationale {
        t.facts.not_affected_rationale = Some(v.clone());
    }
    if req.to == TicketState::Reopened {
        t.facts.reopen_reason = req.reason.clone();
    }
    for u in &req.notifications {
        let n = t
            .notifications
            .iter_mut()
            .find(|n| n.rule == u.rule)
            .ok_or_else(|| {
                TicketError::Invalid(format!("ticket has no notification {:?}", u.rule))
            })?;
        n.state = u.state;
        n.rationale = u.rationale.clone().or(n.rationale.take());
    }
    crate::triage::transition(t.state, req.to, &t.guard_context())?;
    let from = t.state;
    t.state = req.to;
    t.version += 1;
    t.updated_at = Utc::now();
    let reason = req
        .reason
        .clone()
        .unwrap_or_else(|| format!("{from:?} -> {:?}", req.to));
    store.put_ticket(
        &t,
        Some(old_version),
        (by, "ticket.transition", Some(&reason)),
        &[],
    )?;
    Ok(t)
}
