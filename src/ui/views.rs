//! What the review pages show, computed from the domain types: plain strings and flags the
//! templates print as they are (askama escapes them). Pure: the caller passes "today", the
//! tickets, records and feed status it read; the business rules stay in `tickets`/`triage`
//! (`Ticket::current_signoff`, `Ticket::is_overdue`), and this module only orders, counts and
//! words what they decided.

use crate::feeds::FeedStatus;
use crate::matching::findings::VulnSummary;
use crate::records::SoupRecord;
use crate::tickets::{Signoff, SignoffAction, Ticket, TicketNotification};
use crate::triage::{ChangeEu, ChangeUs, RiskClass, TicketState};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Percent-encodes everything but RFC 3986 unreserved characters, so ids with `:` or `/` are
/// one safe path segment or query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The UI address of a ticket (ids contain `:`, which must not start a relative URL).
pub fn ticket_href(id: &str) -> String {
    format!("/ui/tickets/{}", encode_component(id))
}

/// An enum's wire name (its serde string), e.g. `APPLICABILITY_CHECK` or `document_only`.
pub fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// `APPLICABILITY_CHECK` / `document_only` -> "Applicability check" / "Document only".
pub fn words(wire_name: &str) -> String {
    let lower = wire_name.replace('_', " ").to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => lower,
    }
}

pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A clock's distance from today, in words; `overdue` is shown in red *and* said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaysLeft {
    pub days: i64,
    pub text: String,
    pub overdue: bool,
    /// Due within three days (and not yet overdue).
    pub soon: bool,
}

/// Days from `today` to `deadline`; `open` says whether the task is still to be done (a sent or
/// waived notification is never overdue, as in `Ticket::is_overdue`).
pub fn days_left(deadline: NaiveDate, today: NaiveDate, open: bool) -> DaysLeft {
    let days = (deadline - today).num_days();
    let plural = |n: i64| if n == 1 { "" } else { "s" };
    let (text, overdue) = if !open {
        ("done".to_string(), false)
    } else if days < 0 {
        (format!("overdue by {} day{}", -days, plural(-days)), true)
    } else if days == 0 {
        ("due today".to_string(), false)
    } else {
        (format!("{days} day{} left", plural(days)), false)
    };
    DaysLeft {
        days,
        text,
        overdue,
        soon: open && (0..=3).contains(&days),
    }
}

/// A notification still to be done (not sent, acknowledged or waived).
pub fn notification_open(n: &TicketNotification) -> bool {
    n.is_open()
}

/// The earliest deadline among the ticket's open notifications.
pub fn next_deadline(t: &Ticket) -> Option<NaiveDate> {
    t.next_deadline()
}

/// How the queue is ordered (`?sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueSort {
    /// Earliest open deadline first (tickets without one last), then priority.
    #[default]
    Deadline,
    /// P0 first, then earliest deadline.
    Priority,
}

impl QueueSort {
    pub fn parse(s: Option<&str>) -> QueueSort {
        match s {
            Some("priority") => QueueSort::Priority,
            _ => QueueSort::Deadline,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueueSort::Deadline => "deadline",
            QueueSort::Priority => "priority",
        }
    }
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: String,
    pub href: String,
    pub product: String,
    pub vulnerability: String,
    pub summary: String,
    pub priority: String,
    pub risk: String,
    pub state: String,
    pub deadline: String,
    pub days: Option<DaysLeft>,
    pub releases: String,
}

fn applicable_releases(t: &Ticket) -> Vec<String> {
    t.releases
        .iter()
        .filter(|r| r.applicable)
        .map(|r| r.release.clone())
        .collect()
}

/// Awaiting signoff: no signoff that still applies to the current decision, and not closed.
pub fn awaiting_signoff(t: &Ticket) -> bool {
    t.current_signoff().is_none() && t.state != TicketState::Closed
}

/// The review queue: tickets awaiting signoff, in the chosen order (ties by id, so stable).
pub fn queue_rows(tickets: &[Ticket], today: NaiveDate, sort: QueueSort) -> Vec<QueueRow> {
    let mut waiting: Vec<(&Ticket, Option<NaiveDate>)> = tickets
        .iter()
        .filter(|t| awaiting_signoff(t))
        .map(|t| (t, next_deadline(t)))
        .collect();
    // `None` deadlines sort last: (is_none, date).
    let by_deadline = |d: &Option<NaiveDate>| (d.is_none(), *d);
    waiting.sort_by(|(a, da), (b, db)| {
        let prio = a.decision.priority.cmp(&b.decision.priority);
        let dl = by_deadline(da).cmp(&by_deadline(db));
        let primary = match sort {
            QueueSort::Deadline => dl.then(prio),
            QueueSort::Priority => prio.then(dl),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    });
    waiting
        .into_iter()
        .map(|(t, d)| {
            let rel = applicable_releases(t);
            QueueRow {
                id: t.id.clone(),
                href: ticket_href(&t.id),
                product: t.product.clone(),
                vulnerability: t.vulnerability.clone(),
                summary: t.summary.clone().unwrap_or_default(),
                priority: t.decision.priority.as_str().to_string(),
                risk: t.decision.risk.as_str().to_string(),
                state: words(&wire(&t.state)),
                deadline: d.map(|d| d.to_string()).unwrap_or_else(|| "none".into()),
                days: d.map(|d| days_left(d, today, true)),
                releases: if rel.is_empty() {
                    "none (findings retracted)".into()
                } else {
                    rel.join(", ")
                },
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct ComponentRow {
    pub name: String,
    pub version: String,
    pub purl: String,
    pub soup_id: Option<String>,
    pub soup_anchor: String,
    pub soup_revision: String,
}

#[derive(Debug, Clone)]
pub struct ReleaseRow {
    pub release: String,
    pub applicable: bool,
    pub components: Vec<ComponentRow>,
    pub advisories: String,
    pub override_reason: String,
}

/// An HTML id for a SOUP record's section (ids are free text: keep only safe characters).
pub fn soup_anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("soup-{safe}")
}

#[derive(Debug, Clone)]
pub struct HazardRow {
    pub id: String,
    pub description: String,
    pub severity: String,
}

#[derive(Debug, Clone)]
pub struct SoupView {
    pub id: String,
    pub anchor: String,
    pub found: bool,
    pub title: String,
    /// Label/value pairs of the record, in the register's order.
    pub fields: Vec<(String, String)>,
    pub hazards: Vec<HazardRow>,
    pub risk_controls: Vec<String>,
    /// e.g. "the decision used revision 1; the record is now at revision 2".
    pub revision_note: String,
    pub outdated: bool,
}

fn opt_wire<T: Serialize>(v: &Option<T>, missing: &str) -> String {
    v.as_ref()
        .map(|x| words(&wire(x)))
        .unwrap_or_else(|| missing.to_string())
}

/// The SOUP records the ticket's components point at, with the revisions the decision used.
pub fn soup_views(t: &Ticket, records: &[SoupRecord]) -> Vec<SoupView> {
    let mut used: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for c in t.releases.iter().flat_map(|r| &r.components) {
        if let Some(id) = &c.soup_id {
            let revs = used.entry(id.clone()).or_default();
            if let Some(r) = c.soup_revision {
                revs.insert(r);
            }
        }
    }
    used.into_iter()
        .map(|(id, revs)| {
            let used_text = revs
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let anchor = soup_anchor(&id);
            match records.iter().find(|r| r.id == id) {
                None => SoupView {
                    title: "record not found in the SOUP register".into(),
                    found: false,
                    fields: Vec::new(),
                    hazards: Vec::new(),
                    risk_controls: Vec::new(),
                    revision_note: format!("the decision used revision {used_text}"),
                    outdated: true,
                    anchor,
                    id,
                },
                Some(r) => {
                    let tr = &r.triage;
                    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
                    let fields = vec![
                        ("Manufacturer".into(), text(&r.manufacturer)),
                        ("Software item".into(), text(&r.software_item)),
                        ("Covers purl".into(), r.purl.clone()),
                        ("Safety class".into(), opt_wire(&tr.safety_class, "not set (C assumed)")),
                        ("Worst harm".into(), opt_wire(&tr.harm, "not set (H4 assumed)")),
                        ("Exposure".into(), opt_wire(&tr.exposure, "not set (X3 assumed)")),
                        (
                            "Authentication required".into(),
                            tr.auth_required
                                .map(|b| yes_no(b).to_string())
                                .unwrap_or_else(|| "not set (no assumed)".into()),
                        ),
                        (
                            "Clinical function".into(),
                            opt_wire(&tr.clinical_function, "not set (therapy assumed)"),
                        ),
                        ("Risk controls in place".into(), opt_wire(&tr.controls, "not set (none assumed)")),
                        ("Usage".into(), text(&r.usage)),
                        ("Reachability".into(), opt_wire(&r.reach, "—")),
                        ("VEX justification".into(), text(&r.vex_justification)),
                        ("Support".into(), text(&r.support_level)),
                        (
                            "End of support".into(),
                            r.end_of_support
                                .map(|d| d.to_string())
                                .unwrap_or_else(|| "—".into()),
                        ),
                    ];
                    let outdated = !revs.is_empty() && !revs.contains(&r.revision);
                    let revision_note = if revs.is_empty() {
                        format!("revision {}", r.revision)
                    } else if outdated {
                        format!(
                            "the decision used revision {used_text}; the record is now at revision {}",
                            r.revision
                        )
                    } else {
                        format!("revision {} (the one the decision used)", r.revision)
                    };
                    SoupView {
                        title: r.title.clone(),
                        found: true,
                        fields,
                        hazards: r
                            .hazards
                            .iter()
                            .map(|h| HazardRow {
                                id: h.id.clone(),
                                description: h.description.clone(),
                                severity: wire(&h.severity),
                            })
                            .collect(),
                        risk_controls: r.risk_controls.clone(),
                        revision_note,
                        outdated,
                        anchor,
                        id,
                    }
                }
            }
        })
        .collect()
}

pub fn release_rows(t: &Ticket) -> Vec<ReleaseRow> {
    t.releases
        .iter()
        .map(|r| ReleaseRow {
            release: r.release.clone(),
            applicable: r.applicable,
            components: r
                .components
                .iter()
                .map(|c| ComponentRow {
                    name: c.name.clone(),
                    version: c.version.clone().unwrap_or_else(|| "—".into()),
                    purl: c.purl.clone().unwrap_or_else(|| "—".into()),
                    soup_anchor: c.soup_id.as_deref().map(soup_anchor).unwrap_or_default(),
                    soup_revision: c
                        .soup_revision
                        .map(|r| format!("rev. {r}"))
                        .unwrap_or_default(),
                    soup_id: c.soup_id.clone(),
                })
                .collect(),
            advisories: r.advisories.join(", "),
            override_reason: r.override_reason.clone().unwrap_or_default(),
        })
        .collect()
}

/// Exploit signals: what the rules evaluated, and what the feeds say now.
#[derive(Debug, Clone)]
pub struct SignalsView {
    pub kev: bool,
    pub kev_text: String,
    pub wild: String,
    pub epss: String,
    pub maturity: String,
    pub cvss: String,
    /// Every severity vector the feeds published for the vulnerability.
    pub vectors: Vec<String>,
}

pub fn signals_view(t: &Ticket, now: Option<&VulnSummary>) -> SignalsView {
    let s = &t.input.signals;
    let kev_text = match now.and_then(|v| v.kev.as_ref()) {
        Some(k) => format!(
            "yes: listed in CISA KEV{}{}",
            k.date_added
                .as_deref()
                .map(|d| format!(" since {d}"))
                .unwrap_or_default(),
            k.due_date
                .as_deref()
                .map(|d| format!(" (federal due date {d})"))
                .unwrap_or_default()
        ),
        None if s.kev => "yes: listed in CISA KEV".into(),
        None => "no".into(),
    };
    let epss = match s.epss {
        Some(e) => {
            let pct = s
                .epss_percentile
                .map(|p| format!(", percentile {:.1}%", p * 100.0))
                .unwrap_or_default();
            let date = now
                .and_then(|v| v.epss.as_ref())
                .and_then(|e| e.score_date.clone())
                .map(|d| format!(", scored {d}"))
                .unwrap_or_default();
            format!(
                "{:.1}% probability of exploitation in 30 days{pct}{date}",
                e * 100.0
            )
        }
        None => "unknown (the rules assume the worst, 100%)".into(),
    };
    let cvss = match &s.cvss {
        Some(c) => {
            let score = c
                .score
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "unknown (10.0 assumed)".into());
            let part = |label: &str, v: String| format!("{label} {v}");
            [
                part("score", score),
                part("attack vector", opt_wire(&c.attack_vector, "unknown")),
                part("privileges", opt_wire(&c.privileges_required, "unknown")),
                part("user interaction", opt_wire(&c.user_interaction, "unknown")),
            ]
            .join("; ")
        }
        None => "no CVSS score published (the rules assume 10.0, network, no privileges)".into(),
    };
    let vectors = now
        .map(|v| {
            v.severity
                .iter()
                .map(|sv| {
                    let score = sv
                        .base_score
                        .map(|x| format!(" {x:.1}"))
                        .unwrap_or_default();
                    let by = sv
                        .source
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    format!("{}{score}: {}{by}", sv.kind, sv.vector)
                })
                .collect()
        })
        .unwrap_or_default();
    SignalsView {
        kev: s.kev,
        kev_text,
        wild: yes_no(s.exploited_in_wild).into(),
        epss,
        maturity: words(&wire(&s.exploit_maturity)),
        cvss,
        vectors,
    }
}

#[derive(Debug, Clone)]
pub struct TraceRow {
    pub table: String,
    pub rule: String,
    pub outcome: String,
    pub rationale: String,
    pub basis: String,
    pub source: String,
}

pub fn trace_rows(t: &Ticket) -> Vec<TraceRow> {
    t.decision
        .trace
        .iter()
        .map(|e| TraceRow {
            table: e.table.clone(),
            rule: e.rule.clone(),
            outcome: e.outcome.clone(),
            rationale: e.rationale.clone(),
            basis: e.basis.clone(),
            source: e.source.clone(),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct ClockRow {
    pub rule: String,
    pub recipient: String,
    pub deadline: String,
    pub days: DaysLeft,
    pub state: String,
    pub note: String,
    pub source: String,
}

/// The notification clocks, earliest first (as the decision sorted them).
pub fn clock_rows(t: &Ticket, today: NaiveDate) -> Vec<ClockRow> {
    t.notifications
        .iter()
        .map(|n| {
            let mut state = words(&wire(&n.state));
            if let Some(r) = &n.rationale {
                state = format!("{state} ({r})");
            }
            ClockRow {
                rule: n.rule.clone(),
                recipient: n.recipient.clone(),
                deadline: n.deadline.to_string(),
                days: days_left(n.deadline, today, notification_open(n)),
                state,
                note: n.note.clone(),
                source: format!("{}: {}", n.basis, n.source),
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct SignoffRow {
    pub by: String,
    pub at: String,
    pub action: String,
    pub meaning: String,
    pub reason: String,
    pub values: String,
    pub current: bool,
}

fn signed_values(s: &Signoff) -> String {
    format!(
        "risk {}; US change {}; EU change {}; {}",
        s.risk.as_str(),
        s.change_us.as_str(),
        s.change_eu.as_str(),
        if s.fsca { "FSCA" } else { "no FSCA" }
    )
}

pub fn signoff_rows(t: &Ticket) -> Vec<SignoffRow> {
    let current = t.current_signoff().map(|s| s.signed_sha256.clone());
    t.signoffs
        .iter()
        .map(|s| SignoffRow {
            by: s.by.clone(),
            at: fmt_time(s.at),
            action: match s.action {
                SignoffAction::Confirm => "confirmed".into(),
                SignoffAction::Override => "overrode".into(),
            },
            meaning: s.meaning.clone(),
            reason: s.reason.clone().unwrap_or_default(),
            values: signed_values(s),
            current: current.as_deref() == Some(s.signed_sha256.as_str()),
        })
        .collect()
}

/// One `<option>` of a select.
#[derive(Debug, Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
}

fn opt(value: &str, label: String) -> Opt {
    Opt {
        value: value.to_string(),
        label,
    }
}

/// Override choices for the signoff form; the provisional value is named in each label.
pub fn risk_options() -> Vec<Opt> {
    [RiskClass::Controlled, RiskClass::Uncontrolled]
        .iter()
        .map(|r| opt(r.as_str(), words(r.as_str())))
        .collect()
}

pub fn change_us_options() -> Vec<Opt> {
    [
        ChangeUs::DocumentOnly,
        ChangeUs::PremarketReview,
        ChangeUs::NewSubmissionLikely,
        ChangeUs::WithinPccp,
    ]
    .iter()
    .map(|c| opt(c.as_str(), words(c.as_str())))
    .collect()
}

pub fn change_eu_options() -> Vec<Opt> {
    [
        ChangeEu::NonSignificant,
        ChangeEu::PotentiallySignificant,
        ChangeEu::Significant,
    ]
    .iter()
    .map(|c| opt(c.as_str(), words(c.as_str())))
    .collect()
}

pub const ALL_STATES: [TicketState; 16] = [
    TicketState::New,
    TicketState::ApplicabilityCheck,
    TicketState::NotAffected,
    TicketState::VexPublished,
    TicketState::UnderInvestigation,
    TicketState::RiskAssessed,
    TicketState::RegulatoryAssessed,
    TicketState::Deferred,
    TicketState::ChangeRequested,
    TicketState::CrApproved,
    TicketState::Implementing,
    TicketState::Verifying,
    TicketState::Released,
    TicketState::DeploymentMonitoring,
    TicketState::Closed,
    TicketState::Reopened,
];

/// Target states for the transition form: every other state (the guards decide, not the UI).
pub fn state_options(current: TicketState) -> Vec<Opt> {
    ALL_STATES
        .iter()
        .filter(|s| **s != current)
        .map(|s| {
            let w = wire(s);
            opt(&w, words(&w))
        })
        .collect()
}

/// The ticket page's decision summary.
#[derive(Debug, Clone)]
pub struct DecisionView {
    pub priority: String,
    pub risk: String,
    pub change_us: String,
    pub change_eu: String,
    pub fsca: String,
    pub levels: String,
    pub rules: String,
    pub assumptions: Vec<String>,
    pub flags: Vec<String>,
    /// What the current signoff confirmed or overrode, if one applies.
    pub signed: Option<String>,
}

pub fn decision_view(t: &Ticket) -> DecisionView {
    let d = &t.decision;
    DecisionView {
        priority: d.priority.as_str().into(),
        risk: d.risk.as_str().into(),
        change_us: words(d.change_us.as_str()),
        change_eu: words(d.change_eu.as_str()),
        fsca: if d.fsca { "FSCA" } else { "no FSCA" }.into(),
        levels: format!(
            "exploit {}, exposure {}, harm {}, exploitability {}",
            d.levels.exploit,
            d.levels.exposure,
            d.levels.harm,
            d.levels.exploitability.as_str()
        ),
        rules: format!("rules {} (SHA-256 {})", d.rules_version, d.rules_sha256),
        assumptions: d.assumptions.clone(),
        flags: d.flags.clone(),
        signed: t.current_signoff().map(|s| {
            format!(
                "{} by {} on {}: {}",
                match s.action {
                    SignoffAction::Confirm => "confirmed",
                    SignoffAction::Override => "overridden",
                },
                s.by,
                fmt_time(s.at),
                signed_values(s)
            )
        }),
    }
}

/// One release on the portfolio page.
#[derive(Debug, Clone, Default)]
pub struct PortfolioRelease {
    pub release: String,
    pub revision: u32,
    pub uploaded: String,
    pub components: usize,
    pub matching_pending: bool,
    /// Active findings whose ticket is not closed, by the ticket's priority P0..P4.
    pub by_priority: [usize; 5],
    /// Active findings not (yet) in a ticket.
    pub untriaged: usize,
    /// Active findings whose ticket is closed.
    pub closed: usize,
}

impl PortfolioRelease {
    pub fn open_total(&self) -> usize {
        self.by_priority.iter().sum::<usize>() + self.untriaged
    }
}

/// Counts a release's active findings (their vulnerability group ids) by their ticket's state
/// and priority; `tickets` is keyed by ticket id (`product:group`).
pub fn count_findings(
    row: &mut PortfolioRelease,
    product: &str,
    groups: &[String],
    tickets: &HashMap<String, &Ticket>,
) {
    for g in groups {
        match tickets.get(&Ticket::id_for(product, g)) {
            None => row.untriaged += 1,
            Some(t) if t.state == TicketState::Closed => row.closed += 1,
            Some(t) => {
                let i = t.decision.priority as usize;
                if let Some(slot) = row.by_priority.get_mut(i) {
                    *slot += 1;
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct PortfolioProduct {
    pub name: String,
    pub device: String,
    pub releases: Vec<PortfolioRelease>,
    /// Tickets not closed, by priority P0..P4, and how many await signoff.
    pub tickets_by_priority: [usize; 5],
    pub awaiting_signoff: usize,
    pub queue_href: String,
}

pub fn product_ticket_counts(tickets: &[&Ticket]) -> ([usize; 5], usize) {
    let mut by = [0usize; 5];
    let mut waiting = 0;
    for t in tickets.iter().filter(|t| t.state != TicketState::Closed) {
        if let Some(slot) = by.get_mut(t.decision.priority as usize) {
            *slot += 1;
        }
        if awaiting_signoff(t) {
            waiting += 1;
        }
    }
    (by, waiting)
}

#[derive(Debug, Clone)]
pub struct FeedRow {
    pub name: String,
    pub kind: String,
    pub schedule: String,
    pub status: String,
    pub stale: bool,
    pub last_success: String,
    pub last_attempt: String,
    pub last_error: String,
    pub records: u64,
    pub newest: String,
    pub limit: String,
}

pub fn feed_rows(status: &[FeedStatus]) -> Vec<FeedRow> {
    let when = |t: Option<DateTime<Utc>>| t.map(fmt_time).unwrap_or_else(|| "never".into());
    status
        .iter()
        .map(|f| FeedRow {
            name: f.name.clone(),
            kind: wire(&f.kind),
            schedule: f.schedule.clone(),
            status: if !f.enabled {
                "disabled".into()
            } else if f.stale {
                "stale".into()
            } else if f.last_error.is_some() {
                "fresh (last run failed)".into()
            } else {
                "fresh".into()
            },
            stale: f.stale,
            last_success: when(f.last_success),
            last_attempt: when(f.last_attempt),
            last_error: f.last_error.clone().unwrap_or_default(),
            records: f.record_count,
            newest: match (f.newest_record, f.newest_record_age_hours) {
                (Some(t), Some(h)) => format!("{} ({} ago)", fmt_time(t), age_words(h)),
                (Some(t), None) => fmt_time(t),
                _ => "—".into(),
            },
            limit: format!("{} h", f.stale_after_hours),
        })
        .collect()
}

fn age_words(hours: i64) -> String {
    if hours < 48 {
        format!("{hours} h")
    } else {
        format!("{} days", hours / 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::ticket::NotificationState;

    #[test]
    fn encoding_keeps_ids_in_one_segment() {
        assert_eq!(
            ticket_href("demo-pump:CVE-2019-16942"),
            "/ui/tickets/demo-pump%3ACVE-2019-16942"
        );
        assert_eq!(encode_component("a/b c?d#é"), "a%2Fb%20c%3Fd%23%C3%A9");
        assert_eq!(
            encode_component("GHSA-mx7p_6679.8g3q~"),
            "GHSA-mx7p_6679.8g3q~"
        );
    }

    #[test]
    fn days_left_words_and_overdue() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let late = days_left(d(2026, 3, 8), today, true);
        assert!(late.overdue);
        assert_eq!(late.text, "overdue by 2 days");
        let late1 = days_left(d(2026, 3, 9), today, true);
        assert_eq!(late1.text, "overdue by 1 day");
        let now = days_left(today, today, true);
        assert!(!now.overdue && now.soon);
        assert_eq!(now.text, "due today");
        let later = days_left(d(2026, 4, 9), today, true);
        assert_eq!((later.days, later.text.as_str()), (30, "30 days left"));
        assert!(!later.soon);
        let done = days_left(d(2026, 3, 1), today, false);
        assert!(!done.overdue && !done.soon);
        assert_eq!(done.text, "done");
    }

    #[test]
    fn wire_names_and_words() {
        assert_eq!(
            wire(&TicketState::ApplicabilityCheck),
            "APPLICABILITY_CHECK"
        );
        assert_eq!(words("APPLICABILITY_CHECK"), "Applicability check");
        assert_eq!(words("document_only"), "Document only");
        assert_eq!(words(""), "");
        let opts = state_options(TicketState::New);
        assert_eq!(opts.len(), ALL_STATES.len() - 1);
        assert!(opts.iter().all(|o| o.value != "NEW"));
        // every option value is a state the domain can parse back
        for o in &opts {
            let s: TicketState =
                serde_json::from_value(serde_json::Value::String(o.value.clone())).unwrap();
            assert_eq!(wire(&s), o.value);
        }
        assert_eq!(QueueSort::parse(Some("priority")), QueueSort::Priority);
        assert_eq!(QueueSort::parse(Some("bogus")), QueueSort::Deadline);
        assert_eq!(QueueSort::parse(None), QueueSort::Deadline);
    }

    /// A ticket with the shipped rules' real decision for `input`.
    fn ticket(id: &str, input: serde_json::Value) -> Ticket {
        let rules = crate::triage::load_rules(crate::triage::DEFAULT_RULES).unwrap();
        let input: crate::triage::TriageInput = serde_json::from_value(input).unwrap();
        let decision = crate::triage::evaluate(&rules, &input).unwrap();
        let now = Utc::now();
        Ticket {
            id: Ticket::id_for("demo-pump", id),
            version: 1,
            product: "demo-pump".into(),
            vulnerability: id.into(),
            aliases: vec![],
            summary: None,
            state: TicketState::New,
            awareness_date: input.awareness_date,
            opened_at: now,
            updated_at: now,
            releases: vec![crate::tickets::TicketRelease {
                release: "1.0.0".into(),
                applicable: true,
                components: vec![],
                advisories: vec![],
                override_reason: None,
            }],
            device_revision: None,
            notifications: decision
                .notifications
                .iter()
                .map(|n| TicketNotification {
                    rule: n.rule.clone(),
                    recipient: n.recipient.clone(),
                    deadline: n.deadline,
                    basis: n.basis.clone(),
                    source: n.source.clone(),
                    note: n.note.clone(),
                    state: NotificationState::Pending,
                    rationale: None,
                    reminded: vec![],
                })
                .collect(),
            input,
            decision,
            signoffs: vec![],
            facts: Default::default(),
            tasks: vec![],
        }
    }

    fn known_exploited(awareness: &str) -> serde_json::Value {
        serde_json::json!({"awareness_date": awareness,
            "finding": {"match": "confirmed", "reach": "reachable"},
            "signals": {"kev": true, "epss": 0.9, "epss_percentile": 0.99,
                        "cvss": {"score": 9.8, "attack_vector": "network",
                                 "privileges_required": "none", "user_interaction": "none"}},
            "soup": {"safety_class": "C", "harm": "H4", "exposure": "X3", "auth_required": false,
                     "clinical_function": "therapy", "controls": "none"}})
    }

    fn unlikely(awareness: &str) -> serde_json::Value {
        serde_json::json!({"awareness_date": awareness,
            "finding": {"match": "confirmed", "reach": "reachable"},
            "signals": {"epss": 0.0004, "epss_percentile": 0.05,
                        "cvss": {"score": 2.1, "attack_vector": "physical",
                                 "privileges_required": "high", "user_interaction": "required"}},
            "soup": {"safety_class": "A", "harm": "H1", "exposure": "X1", "auth_required": true,
                     "clinical_function": "none", "controls": "design_control_effective"},
            "device": {"markets": ["us"], "us_pathway": "510k", "implantable": false,
                       "life_supporting": false, "cyber_device": true}})
    }

    #[test]
    fn queue_orders_by_deadline_or_priority_and_drops_signed_off_tickets() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        // Urgent but noticed recently; minor but noticed long ago (its clocks ran out first).
        let urgent = ticket("CVE-A", known_exploited("2026-03-09"));
        let minor = ticket("CVE-B", unlikely("2025-01-06"));
        assert!(urgent.decision.priority < minor.decision.priority);
        let (du, dm) = (
            next_deadline(&urgent).unwrap(),
            next_deadline(&minor).unwrap(),
        );
        assert!(dm < du, "{dm} {du}");
        // Every clock done: no open deadline, sorts last by deadline.
        let mut quiet = ticket("CVE-C", known_exploited("2024-06-03"));
        for n in &mut quiet.notifications {
            n.state = NotificationState::Sent;
        }
        assert!(next_deadline(&quiet).is_none());

        // A real signoff through the domain function takes a ticket out of the queue.
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let signed = ticket("CVE-D", known_exploited("2026-03-01"));
        store
            .put_ticket(&signed, None, ("test", "ticket.open", None), &[])
            .unwrap();
        let req: crate::tickets::SignoffRequest = serde_json::from_value(
            serde_json::json!({"action": "confirm", "meaning": "approved as risk owner"}),
        )
        .unwrap();
        let signed = crate::tickets::sign_off(&store, &signed.id, &req, "regulatory").unwrap();
        let mut closed = ticket("CVE-E", unlikely("2026-03-01"));
        closed.state = TicketState::Closed;

        let all = vec![quiet.clone(), signed, minor.clone(), urgent.clone(), closed];
        let ids = |rows: Vec<QueueRow>| {
            rows.into_iter()
                .map(|r| r.vulnerability)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(queue_rows(&all, today, QueueSort::Deadline)),
            ["CVE-B", "CVE-A", "CVE-C"]
        );
        // Same priority for A and C: the open deadline goes first.
        assert_eq!(urgent.decision.priority, quiet.decision.priority);
        assert_eq!(
            ids(queue_rows(&all, today, QueueSort::Priority)),
            ["CVE-A", "CVE-C", "CVE-B"]
        );

        let rows = queue_rows(&all, today, QueueSort::Deadline);
        let b = &rows[0];
        assert_eq!(b.href, "/ui/tickets/demo-pump%3ACVE-B");
        let days = b.days.as_ref().unwrap();
        assert!(
            days.overdue && days.text.starts_with("overdue by "),
            "{days:?}"
        );
        // The same verdict as the domain's own check, for every row.
        for (row, t) in rows.iter().zip([&minor, &urgent, &quiet]) {
            let shown = row.days.as_ref().is_some_and(|d| d.overdue);
            assert_eq!(shown, t.is_overdue(today), "{}", row.id);
        }
        assert_eq!(b.deadline, dm.to_string());
        assert_eq!(b.releases, "1.0.0");
        assert!(rows[2].days.is_none() && rows[2].deadline == "none");
    }

    #[test]
    fn portfolio_counts_open_findings_by_their_ticket() {
        let urgent = ticket("CVE-A", known_exploited("2026-03-09"));
        let mut closed = ticket("CVE-B", unlikely("2026-03-01"));
        closed.state = TicketState::Closed;
        let map: HashMap<String, &Ticket> =
            [(urgent.id.clone(), &urgent), (closed.id.clone(), &closed)]
                .into_iter()
                .collect();
        let mut row = PortfolioRelease::default();
        let groups: Vec<String> = ["CVE-A", "CVE-A", "CVE-B", "GHSA-none"]
            .map(String::from)
            .into();
        count_findings(&mut row, "demo-pump", &groups, &map);
        let p = urgent.decision.priority as usize;
        assert_eq!(row.by_priority[p], 2);
        assert_eq!(row.by_priority.iter().sum::<usize>(), 2);
        assert_eq!((row.untriaged, row.closed, row.open_total()), (1, 1, 3));
        let (by, waiting) = product_ticket_counts(&[&urgent, &closed]);
        assert_eq!((by.iter().sum::<usize>(), by[p], waiting), (1, 1, 1));
    }

    #[test]
    fn feeds_say_stale_in_words() {
        let now = Utc::now();
        let feed = |name: &str, enabled: bool, stale: bool, err: Option<&str>| FeedStatus {
            name: name.into(),
            kind: crate::feeds::FeedKind::Kev,
            enabled,
            schedule: "0 0 * * * *".into(),
            last_attempt: Some(now),
            last_success: (!stale).then_some(now),
            last_error: err.map(String::from),
            last_duration_ms: None,
            record_count: 3,
            newest_record: Some(now - chrono::Duration::hours(72)),
            newest_record_age_hours: Some(72),
            origin: None,
            stale_after_hours: 48,
            stale,
        };
        let rows = feed_rows(&[
            feed("kev", true, true, Some("HTTP 503")),
            feed("epss", true, false, Some("HTTP 503")),
            feed("nvd", true, false, None),
            feed("off", false, false, None),
        ]);
        let status: Vec<(&str, bool)> = rows.iter().map(|r| (r.status.as_str(), r.stale)).collect();
        assert_eq!(
            status,
            [
                ("stale", true),
                ("fresh (last run failed)", false),
                ("fresh", false),
                ("disabled", false)
            ]
        );
        assert_eq!(rows[0].last_success, "never");
        assert_eq!(rows[0].last_error, "HTTP 503");
        assert_eq!(rows[0].kind, "kev");
        assert!(
            rows[2].newest.ends_with("(3 days ago)"),
            "{}",
            rows[2].newest
        );
    }

    #[test]
    fn soup_anchors_are_safe_html_ids() {
        assert_eq!(soup_anchor("SOUP-017"), "soup-SOUP-017");
        assert_eq!(soup_anchor("a b\"<x>"), "soup-a_b__x_");
    }
}
