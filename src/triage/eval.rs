//! Evaluation of a compiled rule set against one triage input: the tables run in order, each
//! table's outcome is bound as a CEL variable for the later ones, first match wins (the
//! notifications table adds one notification per matching rule), and every rule that fired is
//! recorded in the trace with its rationale and basis. Deadlines are counted from the input's
//! awareness date. Pure and deterministic: same rules text + same input = same decision.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::days::{add_days, DayKind};
use super::input::TriageInput;
use super::rules::{Outcome, RuleSet, RulesError, RulesErrorKind, TableKind};

/// Work-queue priority (B-a). P0 is the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Priority> {
        [
            Priority::P0,
            Priority::P1,
            Priority::P2,
            Priority::P3,
            Priority::P4,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// FDA 2016 §VI.C binary risk determination (B-b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Controlled,
    Uncontrolled,
}

impl RiskClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskClass::Controlled => "controlled",
            RiskClass::Uncontrolled => "uncontrolled",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<RiskClass> {
        [RiskClass::Controlled, RiskClass::Uncontrolled]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// Exploitability level used by the risk table (B-b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exploitability {
    Low,
    Medium,
    High,
}

impl Exploitability {
    pub fn as_str(self) -> &'static str {
        match self {
            Exploitability::Low => "low",
            Exploitability::Medium => "medium",
            Exploitability::High => "high",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Exploitability> {
        [
            Exploitability::Low,
            Exploitability::Medium,
            Exploitability::High,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }
}

/// The change through the FDA lens (B-c-US).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeUs {
    /// Letter to file / cybersecurity routine update: no submission.
    DocumentOnly,
    /// Potential premarket submission: RA runs the 510(k) questions with engineering input.
    PremarketReview,
    /// New 510(k) or PMA supplement likely.
    NewSubmissionLikely,
    /// Consistent with an authorised PCCP: follow its modification protocol.
    WithinPccp,
}

impl ChangeUs {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeUs::DocumentOnly => "document_only",
            ChangeUs::PremarketReview => "premarket_review",
            ChangeUs::NewSubmissionLikely => "new_submission_likely",
            ChangeUs::WithinPccp => "within_pccp",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<ChangeUs> {
        [
            ChangeUs::DocumentOnly,
            ChangeUs::PremarketReview,
            ChangeUs::NewSubmissionLikely,
            ChangeUs::WithinPccp,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// The change through the EU MDR lens (B-c-EU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeEu {
    NonSignificant,
    PotentiallySignificant,
    Significant,
}

impl ChangeEu {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeEu::NonSignificant => "non_significant",
            ChangeEu::PotentiallySignificant => "potentially_significant",
            ChangeEu::Significant => "significant",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<ChangeEu> {
        [
            ChangeEu::NonSignificant,
            ChangeEu::PotentiallySignificant,
            ChangeEu::Significant,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// A notification due, with its clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Id of the rule that asked for it.
    pub rule: String,
    pub recipient: String,
    /// `YYYY-MM-DD`.
    pub deadline: NaiveDate,
    /// Days after the awareness date, and how they are counted.
    pub days: u32,
    pub day_kind: DayKind,
    /// LAW / GUIDANCE / STD / INDUSTRY / PROPOSAL.
    pub basis: String,
    /// Source reference, e.g. "21 CFR 806.10".
    pub source: String,
    pub note: String,
}

/// One rule that fired, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub table: String,
    pub rule: String,
    pub outcome: String,
    pub rationale: String,
    pub basis: String,
    pub source: String,
}

/// The derived E / X / H levels and exploitability the decision rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levels {
    /// "E0".."E3"
    pub exploit: String,
    /// "X0".."X3"
    pub exposure: String,
    /// "H0".."H4"
    pub harm: String,
    pub exploitability: Exploitability,
}

/// The provisional triage decision (a human signs off later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub priority: Priority,
    pub risk: RiskClass,
    pub change_us: ChangeUs,
    pub change_eu: ChangeEu,
    pub fsca: bool,
    /// Sorted by deadline (earliest first), then by rule order.
    pub notifications: Vec<Notification>,
    pub trace: Vec<TraceEntry>,
    pub levels: Levels,
    pub awareness_date: NaiveDate,
    pub rules_sha256: String,
    pub rules_version: String,
    /// Conservative defaults applied to missing or unusable input values.
    pub assumptions: Vec<String>,
    /// Flags raised by the rules that fired (e.g. RISK_RECORD_INCONSISTENT, PRIVACY_REVIEW).
    pub flags: Vec<String>,
}

fn day_words(days: u32, kind: DayKind) -> String {
    if days == 0 {
        return "immediately".to_string();
    }
    match kind {
        DayKind::Calendar => format!("{days} calendar days"),
        DayKind::Working => format!("{days} working days"),
        DayKind::CalendarNextWorkingDay => {
            format!("{days} calendar days, a weekend deadline moving to Monday")
        }
    }
}

fn outcome_text(outcome: &Outcome, kind: TableKind, awareness: NaiveDate) -> String {
    match outcome {
        Outcome::Level(n) => {
            let prefix = match kind {
                TableKind::Exploit => "E",
                TableKind::Exposure => "X",
                _ => "H",
            };
            format!("{prefix}{n}")
        }
        Outcome::Exploitability(e) => e.as_str().to_string(),
        Outcome::Priority(p) => p.as_str().to_string(),
        Outcome::Risk(r) => r.as_str().to_string(),
        Outcome::ChangeUs(c) => c.as_str().to_string(),
        Outcome::ChangeEu(c) => c.as_str().to_string(),
        Outcome::Fsca(b) => if *b { "FSCA" } else { "no FSCA" }.to_string(),
        Outcome::Notify(n) => format!(
            "notify {} by {} ({})",
            n.recipient,
            add_days(awareness, n.days, n.day_kind),
            day_words(n.days, n.day_kind)
        ),
    }
}

fn outcome_value(outcome: &Outcome) -> cel::Value {
    match outcome {
        Outcome::Level(n) => cel::Value::Int(i64::from(*n)),
        Outcome::Exploitability(e) => cel::Value::from(e.as_str()),
        Outcome::Priority(p) => cel::Value::from(p.as_str()),
        Outcome::Risk(r) => cel::Value::from(r.as_str()),
        Outcome::ChangeUs(c) => cel::Value::from(c.as_str()),
        Outcome::ChangeEu(c) => cel::Value::from(c.as_str()),
        Outcome::Fsca(b) => cel::Value::Bool(*b),
        Outcome::Notify(_) => cel::Value::Null,
    }
}

/// Evaluates every table for one input.
pub fn evaluate(rules: &RuleSet, input: &TriageInput) -> Result<Decision, RulesError> {
    let resolved = input.resolve();
    let mut ctx = cel::Context::default();
    for (name, value) in &rules.params {
        ctx.add_variable_from_value(name.clone(), value.clone());
    }
    for (name, var) in &resolved.vars {
        ctx.add_variable_from_value(*name, cel::Value::from(var));
    }

    let mut trace = Vec::new();
    let mut flags: Vec<String> = Vec::new();
    let mut notifications: Vec<(usize, Notification)> = Vec::new();
    let mut decided: Vec<(TableKind, Outcome)> = Vec::new();

    for kind in TableKind::ALL {
        let Some(table) = rules.table(kind) else {
            return Err(
                RulesError::new(RulesErrorKind::Structure, "required table is missing").at(
                    Some(kind.name()),
                    None,
                    None,
                ),
            );
        };
        let mut matched = false;
        for rule in &table.rules {
            let here = |m: String| {
                RulesError::new(RulesErrorKind::Evaluation, m).at(
                    Some(kind.name()),
                    Some(&rule.id),
                    Some("when"),
                )
            };
            let fires = match rule.program.execute(&ctx) {
                Ok(cel::Value::Bool(b)) => b,
                Ok(other) => {
                    return Err(here(format!("condition yielded {other:?}, not a boolean")))
                }
                Err(e) => return Err(here(format!("{e:?}"))),
            };
            if !fires {
                continue;
            }
            matched = true;
            trace.push(TraceEntry {
                table: kind.name().to_string(),
                rule: rule.id.clone(),
                outcome: outcome_text(&rule.outcome, kind, input.awareness_date),
                rationale: rule.rationale.clone(),
                basis: rule.basis.as_str().to_string(),
                source: rule.source.clone(),
            });
            if let Some(flag) = &rule.flag {
                if !flags.contains(flag) {
                    flags.push(flag.clone());
                }
            }
            if let Outcome::Notify(spec) = &rule.outcome {
                notifications.push((
                    notifications.len(),
                    Notification {
                        rule: rule.id.clone(),
                        recipient: spec.recipient.clone(),
                        deadline: add_days(input.awareness_date, spec.days, spec.day_kind),
                        days: spec.days,
                        day_kind: spec.day_kind,
                        basis: rule.basis.as_str().to_string(),
                        source: rule.source.clone(),
                        note: spec.note.clone(),
                    },
                ));
            }
            if !kind.all_match() {
                if let Some(var) = kind.variable() {
                    ctx.add_variable_from_value(var, outcome_value(&rule.outcome));
                }
                decided.push((kind, rule.outcome.clone()));
                break;
            }
        }
        if !matched && !kind.all_match() {
            return Err(RulesError::new(
                RulesErrorKind::Evaluation,
                "no rule matched (the table lacks a catch-all)",
            )
            .at(Some(kind.name()), None, None));
        }
    }

    let get = |kind: TableKind| decided.iter().find(|(k, _)| *k == kind).map(|(_, o)| o);
    let missing = |kind: TableKind| {
        RulesError::new(RulesErrorKind::Evaluation, "table decided nothing").at(
            Some(kind.name()),
            None,
            None,
        )
    };
    let level = |kind: TableKind, prefix: &str| match get(kind) {
        Some(Outcome::Level(n)) => Ok(format!("{prefix}{n}")),
        _ => Err(missing(kind)),
    };
    let exploitability = match get(TableKind::Exploitability) {
        Some(Outcome::Exploitability(e)) => *e,
        _ => return Err(missing(TableKind::Exploitability)),
    };
    let priority = match get(TableKind::Priority) {
        Some(Outcome::Priority(p)) => *p,
        _ => return Err(missing(TableKind::Priority)),
    };
    let risk = match get(TableKind::Risk) {
        Some(Outcome::Risk(r)) => *r,
        _ => return Err(missing(TableKind::Risk)),
    };
    let change_us = match get(TableKind::ChangeUs) {
        Some(Outcome::ChangeUs(c)) => *c,
        _ => return Err(missing(TableKind::ChangeUs)),
    };
    let change_eu = match get(TableKind::ChangeEu) {
        Some(Outcome::ChangeEu(c)) => *c,
        _ => return Err(missing(TableKind::ChangeEu)),
    };
    let fsca = match get(TableKind::Fsca) {
        Some(Outcome::Fsca(b)) => *b,
        _ => return Err(missing(TableKind::Fsca)),
    };
    let levels = Levels {
        exploit: level(TableKind::Exploit, "E")?,
        exposure: level(TableKind::Exposure, "X")?,
        harm: level(TableKind::Harm, "H")?,
        exploitability,
    };
    // Clock conflicts: every clock is shown, the earliest first (B-d).
    notifications.sort_by_key(|(order, n)| (n.deadline, *order));

    Ok(Decision {
        priority,
        risk,
        change_us,
        change_eu,
        fsca,
        notifications: notifications.into_iter().map(|(_, n)| n).collect(),
        trace,
        levels,
        awareness_date: input.awareness_date,
        rules_sha256: rules.sha256.clone(),
        rules_version: rules.version.clone(),
        assumptions: resolved.assumptions,
        flags,
    })
}

/// `soupwatch rules eval FILE.json`: parses a [`TriageInput`] from JSON, evaluates it and
/// returns the decision as JSON.
pub fn eval_json(rules: &RuleSet, input_json: &str) -> Result<serde_json::Value, String> {
    let input: TriageInput =
        serde_json::from_str(input_json).map_err(|e| format!("invalid triage input: {e}"))?;
    let decision = evaluate(rules, &input).map_err(|e| e.to_string())?;
    serde_json::to_value(&decision).map_err(|e| format!("cannot serialize the decision: {e}"))
}
