//! The triage pass: drains the triage queue, turning each (product, vulnerability group) with
//! findings into its ticket, and the deadline watch raising reminders and overdue events.

use super::{Ticket, TicketComponent, TicketNotification, TicketRelease};
use crate::records::SoupRecord;
use crate::store::{EventKind, HitStatus, Store, StoreError};
use crate::triage::input::{
    AttackVector, Cvss, MatchStatus, PrivilegesRequired, Reach, SafetyClass, UserInteraction,
};
use crate::triage::ticket::NotificationState;
use crate::triage::{evaluate, RuleSet, TicketState, TriageInput};
use chrono::{NaiveDate, Utc};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct TriageRun {
    pub opened: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Triages every queued (product, group); acknowledges each only after its ticket is written.
pub fn triage_pending(
    store: &Store,
    rules: &RuleSet,
    today: NaiveDate,
) -> Result<TriageRun, StoreError> {
    let mut run = TriageRun::default();
    for (product, group) in store.pending_triage()? {
        if group == "*" {
            for t in store
                .tickets()?
                .into_iter()
                .filter(|t| t.product == product)
            {
                triage_one(store, rules, &product, &t.vulnerability, today, &mut run)?;
            }
        } else {
            triage_one(store, rules, &product, &group, today, &mut run)?;
        }
        store.ack_triage(&product, &group)?;
    }
    Ok(run)
}

/// CVSS fields the rules read, from the first usable CVSS 3.x/4.0 vector with the highest score.
fn cvss_of(severity: &[crate::advisory::Severity]) -> Option<Cvss> {
    let best = severity
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_V3") || s.kind.starts_with("CVSS_V4"))
        .max_by(|a, b| {
            a.base_score
                .unwrap_or(0.0)
                .total_cmp(&b.base_score.unwrap_or(0.0))
        })?;
    let metric = |name: &str| {
        best.vector
            .split('/')
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
    };
    Some(Cvss {
        score: best.base_score,
        attack_vector: metric("AV").and_then(|v| match v {
            "N" => Some(AttackVector::Network),
            "A" => Some(AttackVector::Adjacent),
            "L" => Some(AttackVector::Local),
            "P" => Some(AttackVector::Physical),
            _ => None,
        }),
        privileges_required: metric("PR").and_then(|v| match v {
            "N" => Some(PrivilegesRequired::None),
            "L" => Some(PrivilegesRequired::Low),
            "H" => Some(PrivilegesRequired::High),
            _ => None,
        }),
        user_interaction: metric("UI").and_then(|v| match v {
            "N" => Some(UserInteraction::None),
            "R" => Some(UserInteraction::Required),
            "P" => Some(UserInteraction::Passive),
            "A" => Some(UserInteraction::Active),
            _ => None,
        }),
    })
}

fn class_rank(s: &SoupRecord) -> u8 {
    match s.triage.safety_class {
        Some(SafetyClass::A) => 1,
        Some(SafetyClass::B) => 2,
        Some(SafetyClass::C) | None => 3,
    }
}

fn triage_one(
    store: &Store,
    rules: &RuleSet,
    product: &str,
    group: &str,
    today: NaiveDate,
    run: &mut TriageRun,
) -> Result<(), StoreError> {
    let members = store
        .alias_group(group)?
        .map_or_else(|| vec![group.to_string()], |g| g.1);
    let mut hits = Vec::new();
    let mut summary = None;
    let mut severity = Vec::new();
    for m in &members {
        for a in store.advisories_by_id(m)? {
            if summary.is_none() {
                summary = a
                    .summary
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| a.details.as_ref().map(|d| d.chars().take(300).collect()));
            }
            severity.extend(a.severity.clone());
            hits.extend(
                store
                    .hits_of_advisory(&a.id, a.source)?
                    .into_iter()
                    .filter(|h| h.product == product),
            );
        }
    }
    let id = Ticket::id_for(product, group);
    let existing = store.ticket(&id)?;
    let active: Vec<_> = hits
        .iter()
        .filter(|h| h.status == HitStatus::Active)
        .collect();
    if existing.is_none() && active.is_empty() {
        return Ok(());
    }
    let soup = store.soup_records(product)?;
    let device = store.device(product)?;
    // Releases: every release with an active finding, plus those the ticket listed before.
    let mut releases: BTreeMap<String, TicketRelease> = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut covering: Vec<&SoupRecord> = Vec::new();
    let mut missing_soup = false;
    for h in &active {
        let rel = releases
            .entry(h.release.clone())
            .or_insert_with(|| TicketRelease {
                release: h.release.clone(),
                applicable: true,
                components: Vec::new(),
                advisories: Vec::new(),
                override_reason: None,
            });
        if !rel.advisories.contains(&h.advisory_id) {
            rel.advisories.push(h.advisory_id.clone());
        }
        if rel.components.iter().any(|c| c.index == h.component_index) {
            continue;
        }
        let record = h
            .purl
            .as_deref()
            .and_then(|p| soup.iter().find(|s| s.covers(p)));
        match record {
            Some(r) => covering.push(r),
            None => {
                missing_soup = true;
                let task = format!(
                    "SOUP record missing for {} {}",
                    h.component_name,
                    h.component_version.as_deref().unwrap_or("")
                );
                if !tasks.contains(&task) {
                    tasks.push(task);
                }
            }
        }
        rel.components.push(TicketComponent {
            index: h.component_index,
            name: h.component_name.clone(),
            version: h.component_version.clone(),
            purl: h.purl.clone(),
            soup_id: record.map(|r| r.id.clone()),
            soup_revision: record.map(|r| r.revision),
        });
    }
    if let Some(t) = &existing {
        for r in &t.releases {
            releases
                .entry(r.release.clone())
                .or_insert_with(|| TicketRelease {
                    applicable: false,
                    override_reason: r.override_reason.clone(),
                    ..r.clone()
                });
        }
    }
    if device.is_none() {
        tasks.push(format!(
            "device record missing for {product}: conservative defaults applied"
        ));
    }
    // Signals over the whole group.
    let mut input = TriageInput::new(existing.as_ref().map_or(today, |t| t.awareness_date));
    input.finding.match_status = if active.is_empty() {
        MatchStatus::NotInRange
    } else {
        MatchStatus::Confirmed
    };
    for m in members.iter().filter(|m| m.starts_with("CVE-")) {
        if store.kev(m)?.is_some() {
            input.signals.kev = true;
            input.signals.exploited_in_wild = true;
        }
        if let Some(e) = store.epss(m)? {
            if input.signals.epss.is_none_or(|x| e.epss > x) {
                input.signals.epss = Some(e.epss);
                input.signals.epss_percentile = e.percentile;
            }
        }
    }
    input.signals.cvss = cvss_of(&severity);
    // The SOUP record: the worst-class record among the affected components; if any affected
    // component has none, the conservative defaults apply (no record).
    if !missing_soup {
        if let Some(worst) = covering.iter().max_by_key(|s| class_rank(s)) {
            input.soup = Some(worst.triage.clone());
            input.finding.reach = worst.reach.unwrap_or(Reach::Unknown);
        }
    }
    if let Some(d) = &device {
        input.device = d.triage.clone();
    }
    let decision = match evaluate(rules, &input) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(ticket = %id, error = %e, "rules evaluation failed; ticket not updated");
            return Ok(());
        }
    };
    let now = Utc::now();
    let releases: Vec<TicketRelease> = releases.into_values().collect();
    let notifications_from = |old: Option<&Vec<TicketNotification>>| -> Vec<TicketNotification> {
        decision
            .notifications
            .iter()
            .map(|n| {
                let prior = old.and_then(|o| o.iter().find(|x| x.rule == n.rule));
                TicketNotification {
                    rule: n.rule.clone(),
                    recipient: n.recipient.clone(),
                    deadline: n.deadline,
                    basis: n.basis.clone(),
                    source: n.source.clone(),
                    note: n.note.clone(),
                    state: prior.map_or(NotificationState::Pending, |p| p.state),
                    rationale: prior.and_then(|p| p.rationale.clone()),
                    reminded: prior.map(|p| p.reminded.clone()).unwrap_or_default(),
                }
            })
            .collect()
    };
    let aliases: Vec<String> = members.iter().filter(|m| *m != group).cloned().collect();
    match existing {
        None => {
            let t = Ticket {
                id: id.clone(),
                version: 1,
                product: product.to_string(),
                vulnerability: group.to_string(),
                aliases,
                summary,
                state: TicketState::New,
                awareness_date: input.awareness_date,
                opened_at: now,
                updated_at: now,
                releases,
                device_revision: device.as_ref().map(|d| d.revision),
                notifications: notifications_from(None),
                input,
                decision,
                signoffs: Vec::new(),
                facts: Default::default(),
                tasks,
            };
            let mut events = vec![
                t.event(
                    EventKind::TicketOpened,
                    format!(
                        "[{}] {} on {}: ticket opened",
                        t.decision.priority.as_str(),
                        t.vulnerability,
                        t.product
                    ),
                ),
                t.event(
                    EventKind::SignoffNeeded,
                    format!("{}: provisional decision awaits signoff", t.id),
                ),
            ];
            for task in t
                .tasks
                .iter()
                .filter(|x| x.starts_with("SOUP record missing"))
            {
                events.push(t.event(
                    EventKind::SoupRecordMissing,
                    format!("{}: {task}", t.product),
                ));
            }
            store.put_ticket(&t, None, ("soupwatch", "ticket.open", None), &events)?;
            run.opened += 1;
        }
        Some(old) => {
            let mut t = old.clone();
            t.releases = releases;
            t.aliases = aliases;
            t.summary = summary.or(old.summary.clone());
            t.device_revision = device.as_ref().map(|d| d.revision);
            t.notifications = notifications_from(Some(&old.notifications));
            t.input = input;
            t.decision = decision;
            t.tasks = tasks;
            if t.releases == old.releases
                && t.input == old.input
                && t.decision.trace == old.decision.trace
                && t.tasks == old.tasks
            {
                run.unchanged += 1;
                return Ok(());
            }
            let mut events = Vec::new();
            if t.decision.priority != old.decision.priority {
                events.push(t.event(
                    EventKind::PriorityChanged,
                    format!(
                        "{}: priority {} -> {}",
                        t.id,
                        old.decision.priority.as_str(),
                        t.decision.priority.as_str()
                    ),
                ));
            }
            if t.decision.risk != old.decision.risk {
                events.push(t.event(
                    EventKind::RiskChanged,
                    format!(
                        "{}: risk {} -> {}",
                        t.id,
                        old.decision.risk.as_str(),
                        t.decision.risk.as_str()
                    ),
                ));
            }
            let new_kev = t.input.signals.kev && !old.input.signals.kev;
            if new_kev {
                events.push(t.event(
                    EventKind::ExploitEvidence,
                    format!("{}: {} is now listed in CISA KEV", t.id, t.vulnerability),
                ));
            }
            let newly_applicable = t.releases.iter().any(|r| {
                r.applicable
                    && !old
                        .releases
                        .iter()
                        .any(|o| o.release == r.release && o.applicable)
            });
            let closed_like = matches!(
                old.state,
                TicketState::Closed
                    | TicketState::Deferred
                    | TicketState::NotAffected
                    | TicketState::VexPublished
            );
            if closed_like && (new_kev || newly_applicable) {
                t.state = TicketState::Reopened;
                t.facts.reopen_reason = Some(if new_kev {
                    "new exploit evidence (KEV)".into()
                } else {
                    "a release is newly affected".into()
                });
            }
            if old.current_signoff().is_some() && t.current_signoff().is_none() {
                events.push(t.event(
                    EventKind::SignoffNeeded,
                    format!("{}: decision changed since the last signoff", t.id),
                ));
            }
            t.version = old.version + 1;
            t.updated_at = now;
            store.put_ticket(
                &t,
                Some(old.version),
                ("soupwatch", "ticket.retriage", None),
                &events,
            )?;
            run.updated += 1;
        }
    }
    Ok(())
}

/// Raises reminder events at half time, 3 days and 1 day before each open notification's
/// deadline, and `deadline_overdue` after it; each mark fires once per notification.
pub fn watch_deadlines(store: &Store, today: NaiveDate) -> Result<usize, StoreError> {
    let mut raised = 0;
    for mut t in store.tickets()? {
        if t.state == TicketState::Closed {
            continue;
        }
        let old_version = t.version;
        let mut events = Vec::new();
        let awareness = t.awareness_date;
        let snapshot = t.clone();
        for n in t.notifications.iter_mut() {
            if !n.is_open() {
                continue;
            }
            let total = (n.deadline - awareness).num_days();
            let left = (n.deadline - today).num_days();
            let mark = if left < 0 {
                Some("overdue")
            } else if left <= 1 {
                Some("1d")
            } else if left <= 3 {
                Some("3d")
            } else if total >= 2 && left * 2 <= total {
                Some("half")
            } else {
                None
            };
            if let Some(m) = mark {
                if !n.reminded.iter().any(|x| x == m) {
                    n.reminded.push(m.to_string());
                    if m == "overdue" {
                        n.state = NotificationState::Overdue;
                    }
                    let kind = if m == "overdue" {
                        EventKind::DeadlineOverdue
                    } else {
                        EventKind::DeadlineReminder
                    };
                    events.push(snapshot.event(
                        kind,
                        format!("{}: {} due {} ({m})", snapshot.id, n.recipient, n.deadline),
                    ));
                }
            }
        }
        if !events.is_empty() {
            raised += events.len();
            t.version += 1;
            t.updated_at = Utc::now();
            store.put_ticket(
                &t,
                Some(old_version),
                ("soupwatch", "ticket.deadline", None),
                &events,
            )?;
        }
    }
    Ok(raised)
}
