//! The IEC 62304 clause 9 problem-resolution ticket lifecycle of docs/regulatory-rules.md
//! Part B-e.2 as a pure state machine: the allowed transitions and their hard guards (sign-offs,
//! no deferral of an uncontrolled risk, no closing while a required notification is not sent).
//! The ticket store calls [`transition`] before writing a state change; nothing here persists.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::eval::RiskClass;

/// Ticket states (B-e.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketState {
    New,
    ApplicabilityCheck,
    NotAffected,
    VexPublished,
    UnderInvestigation,
    RiskAssessed,
    RegulatoryAssessed,
    Deferred,
    ChangeRequested,
    CrApproved,
    Implementing,
    Verifying,
    Released,
    DeploymentMonitoring,
    Closed,
    Reopened,
}

/// Notification sub-task states (B-e.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationState {
    Pending,
    Drafted,
    Approved,
    Sent,
    Acknowledged,
    NotRequired,
    Overdue,
}

impl NotificationState {
    fn is_sent(self) -> bool {
        matches!(
            self,
            NotificationState::Sent | NotificationState::Acknowledged
        )
    }
}

/// One notification sub-task of the ticket, named by the rule id that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationTask {
    pub rule: String,
    pub state: NotificationState,
    /// Required for NOT_REQUIRED.
    pub rationale: Option<String>,
}

/// IEC 62304 9.7 (a)-(d) verification of the resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// (a) problem resolved and report closed.
    pub resolved: bool,
    /// (b) adverse trends reversed.
    pub trend_reversed: bool,
    /// (c) change requests implemented in the correct software and activities.
    pub correct_software: bool,
    /// (d) no additional problems introduced.
    pub no_new_problems: bool,
}

/// A documented deferral (9.2 d no-action rationale; 81001-5-1 / 62443-4-1 "defer").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    pub rationale: String,
    pub re_review: NaiveDate,
}

/// Facts about the ticket the guards read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardContext {
    /// B-b result (provisional or confirmed); None = not yet assessed.
    pub risk: Option<RiskClass>,
    /// The risk owner confirmed the B-b result.
    pub risk_signed_off: bool,
    /// RA / PRRC confirmed the regulatory assessment (B-c / B-d).
    pub regulatory_signed_off: bool,
    /// A reviewer signed off the not-affected rationale (a1.3).
    pub not_affected_signed_off: bool,
    /// The decision found an FSCA (c-eu5).
    pub fsca: bool,
    pub notifications: Vec<NotificationTask>,
    pub deferral: Option<Deferral>,
    /// Who approved the change request (9.4 / 8.2.1).
    pub cr_approved_by: Option<String>,
    /// A 9.8 test record (version tested, configuration, tester) exists.
    pub test_record: bool,
    pub verification: Verification,
    /// 9.5: the risk management file was updated.
    pub risk_file_updated: bool,
    /// 9.6: the trend record was written.
    pub trend_record_written: bool,
    pub reopen_reason: Option<String>,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("{from:?} -> {to:?} is not a transition of the lifecycle")]
    NotAllowed { from: TicketState, to: TicketState },
    #[error("missing sign-off: {0}")]
    MissingSignoff(&'static str),
    #[error("the risk is not yet assessed (controlled/uncontrolled)")]
    RiskUndetermined,
    #[error("an uncontrolled risk cannot be deferred (FDA 2016 §VII.B; IEC 62443-4-1 DM-4)")]
    UncontrolledRiskDeferral,
    #[error("a deferral needs a rationale and a re-review date")]
    MissingDeferral,
    #[error("notification `{rule}` is {state:?}, not SENT or NOT_REQUIRED")]
    NotificationOpen {
        rule: String,
        state: NotificationState,
    },
    #[error("notification `{rule}` is NOT_REQUIRED without a rationale")]
    NotRequiredWithoutRationale { rule: String },
    #[error("notification `{rule}` must be SENT before closing ({why})")]
    RequiredNotificationNotSent { rule: String, why: &'static str },
    #[error("IEC 62304 9.7 verification incomplete: {0}")]
    VerificationIncomplete(&'static str),
    #[error("IEC 62304 9.8 test record missing")]
    MissingTestRecord,
    #[error("the change request has no approval (9.4 / 8.2.1)")]
    MissingCrApproval,
    #[error("the risk management file is not updated (9.5)")]
    RiskFileNotUpdated,
    #[error("the trend record is not written (9.6)")]
    TrendRecordMissing,
    #[error("reopening needs a reason")]
    MissingReopenReason,
}

fn edge_exists(from: TicketState, to: TicketState) -> bool {
    use TicketState::*;
    if to == Reopened {
        return from != Reopened;
    }
    matches!(
        (from, to),
        (New, ApplicabilityCheck)
            | (ApplicabilityCheck, NotAffected)
            | (ApplicabilityCheck, UnderInvestigation)
            | (NotAffected, VexPublished)
            | (VexPublished, Closed)
            | (UnderInvestigation, RiskAssessed)
            | (RiskAssessed, RegulatoryAssessed)
            | (RegulatoryAssessed, ChangeRequested)
            | (RegulatoryAssessed, Deferred)
            | (ChangeRequested, CrApproved)
            | (CrApproved, Implementing)
            | (Implementing, Verifying)
            // a failed verification goes back to implementation
            | (Verifying, Implementing)
            | (Verifying, Released)
            | (Released, DeploymentMonitoring)
            | (DeploymentMonitoring, Closed)
            | (Reopened, ApplicabilityCheck)
    )
}

/// Rules whose notification cannot be waived by NOT_REQUIRED when the guard condition holds.
const UNCONTROLLED_REQUIRED: [&str; 2] = ["d-us3", "d-us4"];
const FSCA_REQUIRED: [&str; 2] = ["d-eu3", "d-eu4"];

fn close_guards(from: TicketState, ctx: &GuardContext) -> Result<(), GuardError> {
    if ctx.risk == Some(RiskClass::Uncontrolled) {
        for task in ctx
            .notifications
            .iter()
            .filter(|t| UNCONTROLLED_REQUIRED.contains(&t.rule.as_str()))
        {
            if !task.state.is_sent() {
                return Err(GuardError::RequiredNotificationNotSent {
                    rule: task.rule.clone(),
                    why: "uncontrolled risk: FDA 30/60-day duties",
                });
            }
        }
    }
    if ctx.fsca {
        for rule in FSCA_REQUIRED {
            let sent = ctx
                .notifications
                .iter()
                .any(|t| t.rule == rule && t.state.is_sent());
            if !sent {
                return Err(GuardError::RequiredNotificationNotSent {
                    rule: rule.to_string(),
                    why: "FSCA: report and FSN (MDR Art. 87(1)(b), 89(8))",
                });
            }
        }
    }
    for task in &ctx.notifications {
        match task.state {
            NotificationState::Sent | NotificationState::Acknowledged => {}
            NotificationState::NotRequired => {
                if task
                    .rationale
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    return Err(GuardError::NotRequiredWithoutRationale {
                        rule: task.rule.clone(),
                    });
                }
            }
            state => {
                return Err(GuardError::NotificationOpen {
                    rule: task.rule.clone(),
                    state,
                })
            }
        }
    }
    if from == TicketState::DeploymentMonitoring {
        let v = ctx.verification;
        let checks = [
            (v.resolved, "(a) problem resolved"),
            (v.trend_reversed, "(b) adverse trends reversed"),
            (
                v.correct_software,
                "(c) change implemented in the correct software",
            ),
            (v.no_new_problems, "(d) no new problems introduced"),
        ];
        if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(GuardError::VerificationIncomplete(what));
        }
        if !ctx.risk_file_updated {
            return Err(GuardError::RiskFileNotUpdated);
        }
    }
    if !ctx.trend_record_written {
        return Err(GuardError::TrendRecordMissing);
    }
    Ok(())
}

/// Checks whether a ticket may move from `from` to `to` given `ctx`.
pub fn transition(
    from: TicketState,
    to: TicketState,
    ctx: &GuardContext,
) -> Result<(), GuardError> {
    use TicketState::*;
    if !edge_exists(from, to) {
        return Err(GuardError::NotAllowed { from, to });
    }
    match to {
        VexPublished if !ctx.not_affected_signed_off => {
            Err(GuardError::MissingSignoff("not-affected rationale (a1.3)"))
        }
        RegulatoryAssessed => match (ctx.risk, ctx.risk_signed_off) {
            (None, _) => Err(GuardError::RiskUndetermined),
            (Some(_), false) => Err(GuardError::MissingSignoff("risk owner (B-b)")),
            (Some(_), true) => Ok(()),
        },
        ChangeRequested if !ctx.regulatory_signed_off => {
            Err(GuardError::MissingSignoff("RA/PRRC (B-c/B-d)"))
        }
        Deferred => {
            match ctx.risk {
                None => return Err(GuardError::RiskUndetermined),
                Some(RiskClass::Uncontrolled) => return Err(GuardError::UncontrolledRiskDeferral),
                Some(RiskClass::Controlled) => {}
            }
            if !ctx.regulatory_signed_off {
                return Err(GuardError::MissingSignoff("RA/PRRC (B-c/B-d)"));
            }
            match &ctx.deferral {
                Some(d) if !d.rationale.trim().is_empty() => Ok(()),
                _ => Err(GuardError::MissingDeferral),
            }
        }
        CrApproved
            if ctx
                .cr_approved_by
                .as_deref()
                .is_none_or(|w| w.trim().is_empty()) =>
        {
            Err(GuardError::MissingCrApproval)
        }
        Released if !ctx.test_record => Err(GuardError::MissingTestRecord),
        Closed => close_guards(from, ctx),
        Reopened
            if ctx
                .reopen_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty()) =>
        {
            Err(GuardError::MissingReopenReason)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::TicketState::*;
    use super::*;

    fn task(rule: &str, state: NotificationState) -> NotificationTask {
        NotificationTask {
            rule: rule.into(),
            state,
            rationale: None,
        }
    }

    /// A context in which every guard is satisfied.
    fn all_done() -> GuardContext {
        GuardContext {
            risk: Some(RiskClass::Controlled),
            risk_signed_off: true,
            regulatory_signed_off: true,
            not_affected_signed_off: true,
            fsca: false,
            notifications: vec![task("d-us1", NotificationState::Sent)],
            deferral: Some(Deferral {
                rationale: "residual risk acceptable; re-review at next release".into(),
                re_review: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            }),
            cr_approved_by: Some("J. Doe, CCB".into()),
            test_record: true,
            verification: Verification {
                resolved: true,
                trend_reversed: true,
                correct_software: true,
                no_new_problems: true,
            },
            risk_file_updated: true,
            trend_record_written: true,
            reopen_reason: Some("new KEV entry".into()),
        }
    }

    #[test]
    fn happy_paths_walk_the_lifecycle() {
        let ctx = all_done();
        let change_path = [
            New,
            ApplicabilityCheck,
            UnderInvestigation,
            RiskAssessed,
            RegulatoryAssessed,
            ChangeRequested,
            CrApproved,
            Implementing,
            Verifying,
            Released,
            DeploymentMonitoring,
            Closed,
        ];
        for pair in change_path.windows(2) {
            assert_eq!(
                transition(pair[0], pair[1], &ctx),
                Ok(()),
                "{:?} -> {:?}",
                pair[0],
                pair[1]
            );
        }
        let not_affected = [New, ApplicabilityCheck, NotAffected, VexPublished, Closed];
        for pair in not_affected.windows(2) {
            assert_eq!(
                transition(pair[0], pair[1], &ctx),
                Ok(()),
                "{:?} -> {:?}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(transition(RegulatoryAssessed, Deferred, &ctx), Ok(()));
        assert_eq!(transition(Verifying, Implementing, &ctx), Ok(()));
        assert_eq!(transition(Reopened, ApplicabilityCheck, &ctx), Ok(()));
    }

    #[test]
    fn edges_outside_the_diagram_are_refused() {
        let ctx = all_done();
        for (from, to) in [
            (New, Closed),
            (UnderInvestigation, Closed),
            (Deferred, Closed),
            (Implementing, Released),
            (Closed, New),
        ] {
            assert_eq!(
                transition(from, to, &ctx),
                Err(GuardError::NotAllowed { from, to })
            );
        }
        assert_eq!(
            transition(Reopened, Reopened, &ctx),
            Err(GuardError::NotAllowed {
                from: Reopened,
                to: Reopened
            })
        );
    }

    #[test]
    fn any_state_reopens_with_a_reason() {
        let mut ctx = all_done();
        for from in [Closed, Deferred, Implementing, NotAffected, New] {
            assert_eq!(transition(from, Reopened, &ctx), Ok(()));
        }
        ctx.reopen_reason = Some("  ".into());
        assert_eq!(
            transition(Deferred, Reopened, &ctx),
            Err(GuardError::MissingReopenReason)
        );
        ctx.reopen_reason = None;
        assert_eq!(
            transition(Closed, Reopened, &ctx),
            Err(GuardError::MissingReopenReason)
        );
    }

    #[test]
    fn deferral_refused_for_uncontrolled_or_unassessed_risk() {
        let mut ctx = all_done();
        ctx.risk = Some(RiskClass::Uncontrolled);
        assert_eq!(
            transition(RegulatoryAssessed, Deferred, &ctx),
            Err(GuardError::UncontrolledRiskDeferral)
        );
        ctx.risk = None;
        assert_eq!(
            transition(RegulatoryAssessed, Deferred, &ctx),
            Err(GuardError::RiskUndetermined)
        );
    }

    #[test]
    fn deferral_needs_rationale_and_signoff() {
        let mut ctx = all_done();
        ctx.deferral = None;
        assert_eq!(
            transition(RegulatoryAssessed, Deferred, &ctx),
            Err(GuardError::MissingDeferral)
        );
        ctx.deferral = Some(Deferral {
            rationale: " ".into(),
            re_review: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        });
        assert_eq!(
            transition(RegulatoryAssessed, Deferred, &ctx),
            Err(GuardError::MissingDeferral)
        );
        let mut ctx = all_done();
        ctx.regulatory_signed_off = false;
        assert_eq!(
            transition(RegulatoryAssessed, Deferred, &ctx),
            Err(GuardError::MissingSignoff("RA/PRRC (B-c/B-d)"))
        );
    }

    #[test]
    fn signoff_guards() {
        let mut ctx = all_done();
        ctx.not_affected_signed_off = false;
        assert!(matches!(
            transition(NotAffected, VexPublished, &ctx),
            Err(GuardError::MissingSignoff(_))
        ));
        let mut ctx = all_done();
        ctx.risk_signed_off = false;
        assert_eq!(
            transition(RiskAssessed, RegulatoryAssessed, &ctx),
            Err(GuardError::MissingSignoff("risk owner (B-b)"))
        );
        ctx.risk = None;
        assert_eq!(
            transition(RiskAssessed, RegulatoryAssessed, &ctx),
            Err(GuardError::RiskUndetermined)
        );
        let mut ctx = all_done();
        ctx.regulatory_signed_off = false;
        assert!(matches!(
            transition(RegulatoryAssessed, ChangeRequested, &ctx),
            Err(GuardError::MissingSignoff(_))
        ));
    }

    #[test]
    fn change_control_guards() {
        let mut ctx = all_done();
        ctx.cr_approved_by = None;
        assert_eq!(
            transition(ChangeRequested, CrApproved, &ctx),
            Err(GuardError::MissingCrApproval)
        );
        let mut ctx = all_done();
        ctx.test_record = false;
        assert_eq!(
            transition(Verifying, Released, &ctx),
            Err(GuardError::MissingTestRecord)
        );
    }

    #[test]
    fn close_refused_while_uncontrolled_risk_clocks_open() {
        let mut ctx = all_done();
        ctx.risk = Some(RiskClass::Uncontrolled);
        ctx.notifications = vec![
            task("d-us3", NotificationState::Sent),
            NotificationTask {
                rule: "d-us4".into(),
                state: NotificationState::NotRequired,
                rationale: Some("we think so".into()),
            },
        ];
        assert!(matches!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::RequiredNotificationNotSent { rule, .. }) if rule == "d-us4"
        ));
        ctx.notifications[1].state = NotificationState::Acknowledged;
        assert_eq!(transition(DeploymentMonitoring, Closed, &ctx), Ok(()));
    }

    #[test]
    fn close_refused_while_fsca_not_sent() {
        let mut ctx = all_done();
        ctx.fsca = true;
        ctx.notifications = vec![task("d-eu3", NotificationState::Sent)];
        assert!(matches!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::RequiredNotificationNotSent { rule, .. }) if rule == "d-eu4"
        ));
        ctx.notifications
            .push(task("d-eu4", NotificationState::Approved));
        assert!(matches!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::RequiredNotificationNotSent { rule, .. }) if rule == "d-eu4"
        ));
        ctx.notifications[1].state = NotificationState::Sent;
        assert_eq!(transition(DeploymentMonitoring, Closed, &ctx), Ok(()));
    }

    #[test]
    fn close_refused_while_any_notification_open_or_unjustified() {
        let mut ctx = all_done();
        ctx.notifications
            .push(task("d-eu8-annual", NotificationState::Drafted));
        assert_eq!(
            transition(VexPublished, Closed, &ctx),
            Err(GuardError::NotificationOpen {
                rule: "d-eu8-annual".into(),
                state: NotificationState::Drafted
            })
        );
        ctx.notifications[1].state = NotificationState::Overdue;
        assert!(matches!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::NotificationOpen { .. })
        ));
        ctx.notifications[1].state = NotificationState::NotRequired;
        assert_eq!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::NotRequiredWithoutRationale {
                rule: "d-eu8-annual".into()
            })
        );
        ctx.notifications[1].rationale =
            Some("class I device: PMS report updated when necessary".into());
        assert_eq!(transition(DeploymentMonitoring, Closed, &ctx), Ok(()));
    }

    #[test]
    fn close_needs_verification_risk_file_and_trend() {
        type Breaker = fn(&mut GuardContext);
        let checks: [(Breaker, &str); 4] = [
            (|c| c.verification.resolved = false, "(a) problem resolved"),
            (
                |c| c.verification.trend_reversed = false,
                "(b) adverse trends reversed",
            ),
            (
                |c| c.verification.correct_software = false,
                "(c) change implemented in the correct software",
            ),
            (
                |c| c.verification.no_new_problems = false,
                "(d) no new problems introduced",
            ),
        ];
        for (breaker, what) in checks {
            let mut ctx = all_done();
            breaker(&mut ctx);
            assert_eq!(
                transition(DeploymentMonitoring, Closed, &ctx),
                Err(GuardError::VerificationIncomplete(what))
            );
            // the not-affected path made no change, so 9.7 does not apply there
            assert_eq!(transition(VexPublished, Closed, &ctx), Ok(()));
        }
        let mut ctx = all_done();
        ctx.risk_file_updated = false;
        assert_eq!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::RiskFileNotUpdated)
        );
        let mut ctx = all_done();
        ctx.trend_record_written = false;
        assert_eq!(
            transition(DeploymentMonitoring, Closed, &ctx),
            Err(GuardError::TrendRecordMissing)
        );
        assert_eq!(
            transition(VexPublished, Closed, &ctx),
            Err(GuardError::TrendRecordMissing)
        );
    }
}
