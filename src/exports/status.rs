//! The VEX status of each (vulnerability, release): derived once here from the release's findings,
//! the product's ticket for the vulnerability and the SOUP register, then spelt by each format.
//!
//! Rules, first match wins, for a vulnerability (alias group) of a release:
//!
//! * **no active finding**: `fixed` when some finding was retracted because the release's SBOM
//!   was superseded (the component was upgraded or removed) and the ticket is on the fix path
//!   (RELEASED, DEPLOYMENT_MONITORING, or CLOSED after a change); otherwise no statement at all
//!   (a withdrawn advisory or a version outside the range is nothing to state).
//! * **active finding, no ticket listing the release**: `under_investigation` (not yet triaged).
//! * **signed-off not-affected decision**: the ticket is NOT_AFFECTED or VEX_PUBLISHED (or CLOSED
//!   from there), has a `not_affected_rationale`, and its latest signoff still applies to the
//!   current decision: `not_affected`, with the rationale as impact statement.
//! * **signed-off unreachability**: the ticket has a current signoff, is not REOPENED, the decision
//!   it signed evaluated a not-reachable `reach`, and every affected component is covered by a
//!   SOUP record whose `reach` is not reachable and whose `vex_justification` is a known value:
//!   `not_affected`.
//! * NEW, APPLICABILITY_CHECK, UNDER_INVESTIGATION, REOPENED, or a not-affected state without a
//!   current signoff (provisional): `under_investigation`. Only a signed-off decision may claim
//!   `not_affected`: a VEX statement tells hospitals they need not act, so the claim must carry a
//!   reviewer's signature (21 CFR 11), not a rule's guess.
//! * any later state (RISK_ASSESSED ... CLOSED): `affected`, with an action statement saying what
//!   is being done (being decided, deferred with the rationale, update in preparation, update
//!   released).
//!
//! Justifications use the CISA/OpenVEX/CSAF vocabulary as the canonical one ([`Justification`]);
//! a SOUP record's `vex_justification` may be written in it or in CycloneDX's
//! ([`CdxJustification`]), and each format gets its own value: the value as written when it is
//! already that format's, else the mapping below, else none (the impact statement then carries
//! the reason; both OpenVEX and CSAF accept that). Without a `vex_justification` the SOUP record's
//! `reach` gives the canonical value. A statement covering several components has a justification
//! only when all of them agree.

use crate::advisory::Severity;
use crate::matching::findings::Finding;
use crate::records::SoupRecord;
use crate::store::{HitRecord, HitStatus};
use crate::tickets::{Signoff, Ticket};
use crate::triage::input::Reach;
use crate::triage::ticket::Deferral;
use crate::triage::TicketState;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::ReleaseExportData;

/// The four VEX statuses (OpenVEX / CISA names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

/// CISA status justifications: OpenVEX `justification` and CSAF `flags[].label`, same spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

impl Justification {
    pub fn as_str(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent => "component_not_present",
            Justification::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Justification::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Justification::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Justification::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }

    const ALL: [Justification; 5] = [
        Justification::ComponentNotPresent,
        Justification::VulnerableCodeNotPresent,
        Justification::VulnerableCodeNotInExecutePath,
        Justification::VulnerableCodeCannotBeControlledByAdversary,
        Justification::InlineMitigationsAlreadyExist,
    ];

    /// The CycloneDX value with the same meaning. `cannot_be_controlled_by_adversary` has none
    /// (CycloneDX's `requires_*` values say which precondition is missing, which it does not).
    pub fn to_cdx(self) -> Option<CdxJustification> {
        match self {
            Justification::ComponentNotPresent | Justification::VulnerableCodeNotPresent => {
                Some(CdxJustification::CodeNotPresent)
            }
            Justification::VulnerableCodeNotInExecutePath => {
                Some(CdxJustification::CodeNotReachable)
            }
            Justification::VulnerableCodeCannotBeControlledByAdversary => None,
            Justification::InlineMitigationsAlreadyExist => {
                Some(CdxJustification::ProtectedByMitigatingControl)
            }
        }
    }

    fn from_reach(r: Reach) -> Option<Justification> {
        match r {
            Reach::NotPresent => Some(Justification::ComponentNotPresent),
            Reach::CodeNotPresent => Some(Justification::VulnerableCodeNotPresent),
            Reach::NotInExecutePath => Some(Justification::VulnerableCodeNotInExecutePath),
            Reach::CannotBeControlled => {
                Some(Justification::VulnerableCodeCannotBeControlledByAdversary)
            }
            Reach::InlineMitigated => Some(Justification::InlineMitigationsAlreadyExist),
            Reach::Reachable | Reach::Unknown => None,
        }
    }
}

/// CycloneDX `analysis.justification` values (1.4-1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdxJustification {
    CodeNotPresent,
    CodeNotReachable,
    RequiresConfiguration,
    RequiresDependency,
    RequiresEnvironment,
    ProtectedByCompiler,
    ProtectedAtRuntime,
    ProtectedAtPerimeter,
    ProtectedByMitigatingControl,
}

impl CdxJustification {
    pub fn as_str(self) -> &'static str {
        match self {
            CdxJustification::CodeNotPresent => "code_not_present",
            CdxJustification::CodeNotReachable => "code_not_reachable",
            CdxJustification::RequiresConfiguration => "requires_configuration",
            CdxJustification::RequiresDependency => "requires_dependency",
            CdxJustification::RequiresEnvironment => "requires_environment",
            CdxJustification::ProtectedByCompiler => "protected_by_compiler",
            CdxJustification::ProtectedAtRuntime => "protected_at_runtime",
            CdxJustification::ProtectedAtPerimeter => "protected_at_perimeter",
            CdxJustification::ProtectedByMitigatingControl => "protected_by_mitigating_control",
        }
    }

    const ALL: [CdxJustification; 9] = [
        CdxJustification::CodeNotPresent,
        CdxJustification::CodeNotReachable,
        CdxJustification::RequiresConfiguration,
        CdxJustification::RequiresDependency,
        CdxJustification::RequiresEnvironment,
        CdxJustification::ProtectedByCompiler,
        CdxJustification::ProtectedAtRuntime,
        CdxJustification::ProtectedAtPerimeter,
        CdxJustification::ProtectedByMitigatingControl,
    ];

    /// The CISA value with the same meaning, where there is one: compiler and runtime
    /// protections are inline mitigations; a perimeter, a missing dependency, configuration or
    /// environment are not what any CISA value says.
    pub fn to_cisa(self) -> Option<Justification> {
        match self {
            CdxJustification::CodeNotPresent => Some(Justification::VulnerableCodeNotPresent),
            CdxJustification::CodeNotReachable => {
                Some(Justification::VulnerableCodeNotInExecutePath)
            }
            CdxJustification::ProtectedByCompiler
            | CdxJustification::ProtectedAtRuntime
            | CdxJustification::ProtectedByMitigatingControl => {
                Some(Justification::InlineMitigationsAlreadyExist)
            }
            CdxJustification::RequiresConfiguration
            | CdxJustification::RequiresDependency
            | CdxJustification::RequiresEnvironment
            | CdxJustification::ProtectedAtPerimeter => None,
        }
    }
}

/// A justification in both vocabularies; at least one side is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Justified {
    pub cisa: Option<Justification>,
    pub cdx: Option<CdxJustification>,
}

/// Reads a SOUP record's `vex_justification` written in either vocabulary. `None` when unknown.
pub fn parse_justification(s: &str) -> Option<Justified> {
    let s = s.trim();
    if let Some(j) = Justification::ALL.iter().find(|j| j.as_str() == s) {
        return Some(Justified {
            cisa: Some(*j),
            cdx: j.to_cdx(),
        });
    }
    CdxJustification::ALL
        .iter()
        .find(|j| j.as_str() == s)
        .map(|j| Justified {
            cisa: j.to_cisa(),
            cdx: Some(*j),
        })
}

/// A component a statement is about, as the matched SBOM revision named it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementComponent {
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    pub bom_ref: Option<String>,
    pub index: usize,
    /// SHA-256 of the SBOM revision the component is in (differs from the release's for `fixed`).
    pub sbom_sha256: String,
    /// The SOUP record covering it.
    pub soup_id: Option<String>,
}

/// One VEX statement: a vulnerability's status in the release.
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    /// The alias group id (smallest CVE, else smallest id).
    pub vulnerability: String,
    /// Every other id of the group, sorted.
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Vec<Severity>,
    pub status: VexStatus,
    pub justification: Option<Justification>,
    pub cdx_justification: Option<CdxJustification>,
    /// Why not affected (required by OpenVEX without a justification, by CSAF always).
    pub impact_statement: Option<String>,
    /// What is being done (required by OpenVEX and CSAF for `affected`).
    pub action_statement: Option<String>,
    /// CycloneDX `analysis.response` values.
    pub cdx_response: Vec<&'static str>,
    /// How the status was determined (ticket, state, signer).
    pub notes: String,
    pub components: Vec<StatementComponent>,
    pub ticket: Option<&'a Ticket>,
    /// The signoff the status rests on, when it needs one.
    pub signoff: Option<&'a Signoff>,
    pub first_issued: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

/// What the rules read from a ticket.
#[derive(Debug, Clone, Default)]
pub(crate) struct TicketFacts<'a> {
    pub id: &'a str,
    pub state: Option<TicketState>,
    pub signed_by: Option<(&'a str, DateTime<Utc>)>,
    pub rationale: Option<&'a str>,
    /// The `reach` the decision evaluated.
    pub input_reach: Reach,
    pub deferral: Option<&'a Deferral>,
    /// Facts only the change path sets (CR approval, test record).
    pub change_made: bool,
    /// Releases of the ticket no longer affected.
    pub fixed_releases: Vec<&'a str>,
    /// `controlled` / `uncontrolled`, with "(provisional)" when not signed off.
    pub risk: String,
}

impl<'a> TicketFacts<'a> {
    pub(crate) fn of(t: &'a Ticket) -> TicketFacts<'a> {
        let signed = t.current_signoff();
        TicketFacts {
            id: &t.id,
            state: Some(t.state),
            signed_by: signed.map(|s| (s.by.as_str(), s.at)),
            rationale: t
                .facts
                .not_affected_rationale
                .as_deref()
                .filter(|r| !r.trim().is_empty()),
            input_reach: t.input.finding.reach,
            deferral: t.facts.deferral.as_ref(),
            change_made: t.facts.cr_approved_by.is_some() || t.facts.test_record,
            fixed_releases: t
                .releases
                .iter()
                .filter(|r| !r.applicable)
                .map(|r| r.release.as_str())
                .collect(),
            risk: match signed {
                Some(s) => s.risk.as_str().to_string(),
                None => format!("{} (provisional)", t.decision.risk.as_str()),
            },
        }
    }

    fn closed_via_vex(&self) -> bool {
        self.state == Some(TicketState::Closed) && self.rationale.is_some() && !self.change_made
    }

    pub(crate) fn on_fix_path(&self) -> bool {
        matches!(
            self.state,
            Some(TicketState::Released | TicketState::DeploymentMonitoring)
        ) || (self.state == Some(TicketState::Closed) && !self.closed_via_vex())
    }
}

/// The SOUP facts of one affected component: `None` when no record covers it.
pub(crate) type ComponentSoup<'a> = Option<(&'a str, Option<Reach>, Option<&'a str>)>;

/// The derived status with its wording, before components and timestamps are attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derived {
    pub status: VexStatus,
    pub justification: Option<Justification>,
    pub cdx_justification: Option<CdxJustification>,
    pub impact_statement: Option<String>,
    pub action_statement: Option<String>,
    pub cdx_response: Vec<&'static str>,
    pub notes: String,
    /// The status rests on the ticket's current signoff.
    pub uses_signoff: bool,
}

fn not_reachable(r: Reach) -> bool {
    Justification::from_reach(r).is_some()
}

/// The justification all components agree on (from `vex_justification`, else `reach`).
fn common_justification(soup: &[ComponentSoup<'_>]) -> Justified {
    let each: Vec<Justified> = soup
        .iter()
        .map(|s| match s {
            Some((_, reach, vj)) => vj
                .and_then(parse_justification)
                .or_else(|| {
                    reach
                        .and_then(Justification::from_reach)
                        .map(|j| Justified {
                            cisa: Some(j),
                            cdx: j.to_cdx(),
                        })
                })
                .unwrap_or(Justified {
                    cisa: None,
                    cdx: None,
                }),
            None => Justified {
                cisa: None,
                cdx: None,
            },
        })
        .collect();
    let agree = |f: fn(&Justified) -> Option<Justification>| {
        let first = each.first().and_then(f);
        first.filter(|_| each.iter().all(|j| f(j) == first))
    };
    let cisa = agree(|j| j.cisa);
    let first_cdx = each.first().and_then(|j| j.cdx);
    let cdx = first_cdx.filter(|_| each.iter().all(|j| j.cdx == first_cdx));
    Justified { cisa, cdx }
}

/// The status rules of the module docs, over plain facts.
pub(crate) fn derive(
    active: bool,
    superseded_retraction: bool,
    ticket: Option<&TicketFacts<'_>>,
    soup: &[ComponentSoup<'_>],
) -> Option<Derived> {
    use TicketState::*;
    let base = |status, notes: String| Derived {
        status,
        justification: None,
        cdx_justification: None,
        impact_statement: None,
        action_statement: None,
        cdx_response: Vec::new(),
        notes,
        uses_signoff: false,
    };
    if !active {
        let t = ticket.filter(|t| superseded_retraction && t.on_fix_path())?;
        let mut d = base(
            VexStatus::Fixed,
            format!(
                "The vulnerable component is no longer in this release's SBOM (superseded revision); ticket {} is {}.",
                t.id,
                state_name(t.state)
            ),
        );
        d.cdx_response = vec!["update"];
        return Some(d);
    }
    let Some(t) = ticket else {
        return Some(base(
            VexStatus::UnderInvestigation,
            "Matched; not yet triaged.".into(),
        ));
    };
    let state = t.state;
    let na_state = matches!(state, Some(NotAffected | VexPublished)) || t.closed_via_vex();
    let signed = |what: &str, by: (&str, DateTime<Utc>)| {
        format!(
            "{what}; ticket {} is {}, signed off by {} on {}.",
            t.id,
            state_name(state),
            by.0,
            by.1.format("%Y-%m-%d")
        )
    };
    if let (true, Some(by), Some(rationale)) = (na_state, t.signed_by, t.rationale) {
        let j = common_justification(soup);
        return Some(Derived {
            status: VexStatus::NotAffected,
            justification: j.cisa,
            cdx_justification: j.cdx,
            impact_statement: Some(rationale.to_string()),
            action_statement: None,
            cdx_response: Vec::new(),
            notes: signed("Not affected per the signed-off rationale", by),
            uses_signoff: true,
        });
    }
    let soup_unreachable = !soup.is_empty()
        && soup.iter().all(|s| {
            matches!(s, Some((_, Some(r), Some(vj))) if not_reachable(*r) && parse_justification(vj).is_some())
        });
    if let (false, Some(by), true, true) = (
        state == Some(Reopened),
        t.signed_by,
        not_reachable(t.input_reach),
        soup_unreachable,
    ) {
        let j = common_justification(soup);
        let records: Vec<String> = soup
            .iter()
            .flatten()
            .map(|(id, r, vj)| {
                format!(
                    "{id} (reach {}, {})",
                    r.map_or("unknown", reach_name),
                    vj.unwrap_or("")
                )
            })
            .collect();
        return Some(Derived {
            status: VexStatus::NotAffected,
            justification: j.cisa,
            cdx_justification: j.cdx,
            impact_statement: Some(format!(
                "The vulnerable code is not reachable in this device per SOUP record {}.",
                records.join(", ")
            )),
            action_statement: None,
            cdx_response: Vec::new(),
            notes: signed("Not affected per the SOUP register's reachability", by),
            uses_signoff: true,
        });
    }
    if na_state
        || matches!(
            state,
            Some(New | ApplicabilityCheck | UnderInvestigation | Reopened) | None
        )
    {
        let why = if na_state {
            format!(
                "Ticket {} proposes not affected; the decision awaits signoff, so it is not claimed.",
                t.id
            )
        } else {
            format!("Ticket {} is {}.", t.id, state_name(state))
        };
        return Some(base(VexStatus::UnderInvestigation, why));
    }
    let mut d = base(
        VexStatus::Affected,
        format!("Ticket {} is {}; risk {}.", t.id, state_name(state), t.risk),
    );
    let (action, update) = match state {
        Some(Deferred) => (
            match t.deferral {
                Some(x) => format!(
                    "Remediation deferred: {} (re-review by {}).",
                    x.rationale.trim(),
                    x.re_review
                ),
                None => "Remediation deferred.".into(),
            },
            false,
        ),
        Some(ChangeRequested | CrApproved | Implementing | Verifying) => (
            "A software update that removes the vulnerability is in preparation.".into(),
            true,
        ),
        Some(Released | DeploymentMonitoring | Closed) if !t.fixed_releases.is_empty() => (
            format!(
                "Update the device software: release(s) {} no longer contain the vulnerable component.",
                t.fixed_releases.join(", ")
            ),
            true,
        ),
        Some(Released | DeploymentMonitoring | Closed) => (
            "Update the device software to the released fix.".into(),
            true,
        ),
        _ => (
            "The risk is assessed; the remediation is being decided.".into(),
            false,
        ),
    };
    d.action_statement = Some(action);
    if update {
        d.cdx_response = vec!["update"];
    }
    Some(d)
}

fn state_name(s: Option<TicketState>) -> String {
    s.and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn reach_name(r: Reach) -> &'static str {
    match r {
        Reach::NotPresent => "not_present",
        Reach::CodeNotPresent => "code_not_present",
        Reach::NotInExecutePath => "not_in_execute_path",
        Reach::CannotBeControlled => "cannot_be_controlled",
        Reach::InlineMitigated => "inline_mitigated",
        Reach::Reachable => "reachable",
        Reach::Unknown => "unknown",
    }
}

/// The ticket of a vulnerability group: same id, else one whose id is in the group (an alias
/// merge after the ticket was opened renames the group, not the ticket).
pub(crate) fn ticket_for<'a>(
    data: &'a ReleaseExportData,
    group: &str,
    aliases: &[String],
) -> Option<&'a Ticket> {
    data.tickets
        .iter()
        .find(|t| t.vulnerability == group)
        .or_else(|| {
            data.tickets.iter().find(|t| {
                aliases.contains(&t.vulnerability) || t.aliases.iter().any(|a| a == group)
            })
        })
}

fn component_of(h: &HitRecord, soup: &[SoupRecord]) -> StatementComponent {
    StatementComponent {
        name: h.component_name.clone(),
        version: h.component_version.clone(),
        purl: h.purl.clone(),
        cpe: h.cpe.clone(),
        bom_ref: h.bom_ref.clone(),
        index: h.component_index,
        sbom_sha256: h.release_sha256.clone(),
        soup_id: h
            .purl
            .as_deref()
            .and_then(|p| soup.iter().find(|s| s.covers(p)))
            .map(|s| s.id.clone()),
    }
}

/// Every statement of the release, sorted by vulnerability id; components sorted within.
pub fn statements(data: &ReleaseExportData) -> Vec<Statement<'_>> {
    let mut groups: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &data.findings {
        groups.entry(&f.vulnerability.id).or_default().push(f);
    }
    let mut out = Vec::new();
    for (group, findings) in groups {
        let Some(first) = findings.first() else {
            continue;
        };
        let records: Vec<&HitRecord> = findings.iter().flat_map(|f| &f.records).collect();
        let active: Vec<&HitRecord> = records
            .iter()
            .copied()
            .filter(|h| h.status == HitStatus::Active)
            .collect();
        let superseded = records
            .iter()
            .any(|h| h.status == HitStatus::Retracted && h.release_sha256 != data.release.sha256);
        let mut aliases = first.vulnerability.aliases.clone();
        aliases.sort();
        aliases.dedup();
        let ticket = ticket_for(data, group, &aliases);
        let facts = ticket.map(TicketFacts::of);
        let subject: Vec<&HitRecord> = if active.is_empty() {
            records.clone()
        } else {
            active.clone()
        };
        let mut components: Vec<StatementComponent> = subject
            .iter()
            .map(|h| component_of(h, &data.soup))
            .collect();
        components.sort();
        components.dedup_by(|a, b| a.index == b.index && a.sbom_sha256 == b.sbom_sha256);
        let soup: Vec<ComponentSoup<'_>> = components
            .iter()
            .map(|c| {
                let rec = c
                    .soup_id
                    .as_deref()
                    .and_then(|id| data.soup.iter().find(|s| s.id == id))?;
                Some((rec.id.as_str(), rec.reach, rec.vex_justification.as_deref()))
            })
            .collect();
        let Some(mut d) = derive(!active.is_empty(), superseded, facts.as_ref(), &soup) else {
            continue;
        };
        if let Some(reason) = ticket
            .and_then(|t| {
                t.releases
                    .iter()
                    .find(|r| r.release == data.release.release.as_str())
            })
            .and_then(|r| r.override_reason.as_deref())
        {
            d.notes.push_str(&format!(" Release override: {reason}"));
        }
        let seen = records.iter().map(|h| h.first_seen).min();
        let changed = records
            .iter()
            .flat_map(|h| [Some(h.first_seen), h.retracted_at])
            .flatten()
            .max();
        let fallback = data.release.uploaded_at;
        out.push(Statement {
            vulnerability: group.to_string(),
            aliases,
            summary: first.vulnerability.summary.clone(),
            severity: first.vulnerability.severity.clone(),
            status: d.status,
            justification: d.justification,
            cdx_justification: d.cdx_justification,
            impact_statement: d.impact_statement,
            action_statement: d.action_statement,
            cdx_response: d.cdx_response,
            notes: d.notes,
            components,
            signoff: ticket
                .filter(|_| d.uses_signoff)
                .and_then(|t| t.current_signoff()),
            first_issued: ticket.map_or(seen.unwrap_or(fallback), |t| t.opened_at),
            last_updated: ticket.map_or(changed.unwrap_or(fallback), |t| t.updated_at),
            ticket,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
    }

    fn ticket(state: TicketState) -> TicketFacts<'static> {
        TicketFacts {
            id: "pump:CVE-2020-8908",
            state: Some(state),
            risk: "controlled".into(),
            ..TicketFacts::default()
        }
    }

    const UNREACHABLE: ComponentSoup<'static> = Some((
        "SOUP-022",
        Some(Reach::NotInExecutePath),
        Some("vulnerable_code_not_in_execute_path"),
    ));

    #[test]
    fn justification_vocabularies_map_both_ways() {
        let j = parse_justification("vulnerable_code_not_in_execute_path").unwrap();
        assert_eq!(j.cdx, Some(CdxJustification::CodeNotReachable));
        let j = parse_justification("code_not_reachable").unwrap();
        assert_eq!(j.cisa, Some(Justification::VulnerableCodeNotInExecutePath));
        let j = parse_justification("protected_at_perimeter").unwrap();
        assert_eq!(
            (j.cisa, j.cdx),
            (None, Some(CdxJustification::ProtectedAtPerimeter))
        );
        let j = parse_justification("vulnerable_code_cannot_be_controlled_by_adversary").unwrap();
        assert_eq!(j.cdx, None);
        assert_eq!(parse_justification("not reachable, trust me"), None);
        for j in Justification::ALL {
            assert_eq!(parse_justification(j.as_str()).unwrap().cisa, Some(j));
        }
        for j in CdxJustification::ALL {
            assert_eq!(parse_justification(j.as_str()).unwrap().cdx, Some(j));
        }
    }

    #[test]
    fn only_a_signed_off_decision_claims_not_affected() {
        let mut t = ticket(TicketState::NotAffected);
        t.rationale = Some("Files.createTempDir is never called");
        let d = derive(true, false, Some(&t), &[UNREACHABLE]).unwrap();
        assert_eq!(d.status, VexStatus::UnderInvestigation, "{}", d.notes);
        t.signed_by = Some(("regulatory", at()));
        let d = derive(true, false, Some(&t), &[UNREACHABLE]).unwrap();
        assert_eq!(d.status, VexStatus::NotAffected);
        assert_eq!(
            d.justification,
            Some(Justification::VulnerableCodeNotInExecutePath)
        );
        assert_eq!(
            d.cdx_justification,
            Some(CdxJustification::CodeNotReachable)
        );
        assert_eq!(
            d.impact_statement.as_deref(),
            Some("Files.createTempDir is never called")
        );
        assert!(d.notes.contains("regulatory"));
        // Signed off without a rationale in a not-affected state: the claim is not made.
        t.rationale = None;
        t.input_reach = Reach::Reachable;
        let d = derive(true, false, Some(&t), &[None]).unwrap();
        assert_eq!(d.status, VexStatus::UnderInvestigation);
    }

    #[test]
    fn signed_unreachability_from_the_soup_register() {
        let mut t = ticket(TicketState::RiskAssessed);
        t.input_reach = Reach::NotInExecutePath;
        // Unsigned: the decision is provisional; RISK_ASSESSED means affected.
        assert_eq!(
            derive(true, false, Some(&t), &[UNREACHABLE])
                .unwrap()
                .status,
            VexStatus::Affected
        );
        t.signed_by = Some(("regulatory", at()));
        let d = derive(true, false, Some(&t), &[UNREACHABLE]).unwrap();
        assert_eq!(d.status, VexStatus::NotAffected);
        assert!(d.impact_statement.unwrap().contains("SOUP-022"));
        // One component without a record, or without a justification: not claimed.
        assert_eq!(
            derive(true, false, Some(&t), &[UNREACHABLE, None])
                .unwrap()
                .status,
            VexStatus::Affected
        );
        let no_vj: ComponentSoup = Some(("SOUP-1", Some(Reach::NotInExecutePath), None));
        assert_eq!(
            derive(true, false, Some(&t), &[no_vj]).unwrap().status,
            VexStatus::Affected
        );
        // A reopened ticket is being looked at again.
        t.state = Some(TicketState::Reopened);
        assert_eq!(
            derive(true, false, Some(&t), &[UNREACHABLE])
                .unwrap()
                .status,
            VexStatus::UnderInvestigation
        );
    }

    #[test]
    fn early_states_and_untriaged_findings_are_under_investigation() {
        assert_eq!(
            derive(true, false, None, &[None]).unwrap().status,
            VexStatus::UnderInvestigation
        );
        for s in [
            TicketState::New,
            TicketState::ApplicabilityCheck,
            TicketState::UnderInvestigation,
            TicketState::Reopened,
        ] {
            assert_eq!(
                derive(true, false, Some(&ticket(s)), &[None])
                    .unwrap()
                    .status,
                VexStatus::UnderInvestigation,
                "{s:?}"
            );
        }
    }

    #[test]
    fn later_states_are_affected_with_an_action() {
        use TicketState::*;
        for (s, update) in [
            (RiskAssessed, false),
            (RegulatoryAssessed, false),
            (Deferred, false),
            (ChangeRequested, true),
            (Implementing, true),
            (Released, true),
            (Closed, true),
        ] {
            let d = derive(true, false, Some(&ticket(s)), &[None]).unwrap();
            assert_eq!(d.status, VexStatus::Affected, "{s:?}");
            assert!(d.action_statement.is_some());
            assert_eq!(d.cdx_response == vec!["update"], update, "{s:?}");
        }
    }

    #[test]
    fn fixed_needs_a_superseded_sbom_and_the_fix_path() {
        use TicketState::*;
        assert_eq!(
            derive(false, true, Some(&ticket(Released)), &[]).map(|d| d.status),
            Some(VexStatus::Fixed)
        );
        assert_eq!(
            derive(false, true, Some(&ticket(DeploymentMonitoring)), &[]).map(|d| d.status),
            Some(VexStatus::Fixed)
        );
        // Retracted because the advisory was withdrawn or changed: nothing to state.
        assert_eq!(derive(false, false, Some(&ticket(Released)), &[]), None);
        // Not yet released, or closed as not affected: no fix to state.
        assert_eq!(derive(false, true, Some(&ticket(Implementing)), &[]), None);
        let mut t = ticket(Closed);
        t.rationale = Some("not reachable");
        assert_eq!(derive(false, true, Some(&t), &[]), None);
        t.change_made = true;
        assert_eq!(
            derive(false, true, Some(&t), &[]).map(|d| d.status),
            Some(VexStatus::Fixed)
        );
        assert_eq!(derive(false, true, None, &[]), None);
    }

    #[test]
    fn components_must_agree_on_a_justification() {
        let a: ComponentSoup = Some(("A", Some(Reach::NotPresent), None));
        let b: ComponentSoup = Some(("B", Some(Reach::NotPresent), None));
        let c: ComponentSoup = Some(("C", Some(Reach::CodeNotPresent), None));
        assert_eq!(
            common_justification(&[a, b]).cisa,
            Some(Justification::ComponentNotPresent)
        );
        let j = common_justification(&[a, c]);
        assert_eq!(j.cisa, None);
        // Both map to CycloneDX code_not_present.
        assert_eq!(j.cdx, Some(CdxJustification::CodeNotPresent));
    }
}
