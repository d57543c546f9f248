//! The triage input (inputs B0 of docs/regulatory-rules.md): what the SBOM match, the SOUP risk
//! record, the exploit feeds, the device master record and the proposed fix say about one
//! finding, as typed serde fields. Resolving an input applies the conservative defaults of
//! Part B principle 3 (an unknown value takes the worse value, and the assumption is recorded)
//! and flattens it into the named variables that the rules' CEL conditions read
//! (see docs/rules.md for the list). Pure: no clock, the awareness date is a field.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Whether the component version is inside the advisory's affected range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Exact version evaluated inside an affected range.
    Confirmed,
    /// Matched through a weaker identity (CPE only, name heuristics): treated as affected.
    Probable,
    /// The version could not be evaluated: treated as affected, under investigation (a1.2).
    #[default]
    Unknown,
    /// The version is outside every affected range (a1.1).
    NotInRange,
}

/// Reachability / VEX justification of the vulnerable code (B0 `reach`, A12-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    NotPresent,
    CodeNotPresent,
    NotInExecutePath,
    CannotBeControlled,
    InlineMitigated,
    Reachable,
    #[default]
    Unknown,
}

/// Published exploit code maturity (CVSS E metric / advisory text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExploitMaturity {
    /// No public exploit reported.
    #[default]
    Unreported,
    /// Proof of concept.
    Poc,
    Functional,
    Weaponized,
}

/// CVSS attack vector (v3 AV / v4 AV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackVector {
    Network,
    Adjacent,
    Local,
    Physical,
}

/// CVSS privileges required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivilegesRequired {
    None,
    Low,
    High,
}

/// CVSS user interaction (v3 none/required; v4 none/passive/active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserInteraction {
    None,
    Required,
    Passive,
    Active,
}

/// The CVSS pieces the rules may read. The score is the best available (BTE if environmental
/// metrics were scored, else base).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cvss {
    pub score: Option<f64>,
    pub attack_vector: Option<AttackVector>,
    pub privileges_required: Option<PrivilegesRequired>,
    pub user_interaction: Option<UserInteraction>,
}

/// Exploit signals from KEV, EPSS and advisories (A10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// Listed in CISA KEV.
    #[serde(default)]
    pub kev: bool,
    /// Exploitation in the wild reported (advisory, field), other than KEV.
    #[serde(default)]
    pub exploited_in_wild: bool,
    /// EPSS probability in [0, 1]; unknown = worst (1.0).
    pub epss: Option<f64>,
    /// EPSS percentile in [0, 1]; unknown = worst (1.0).
    pub epss_percentile: Option<f64>,
    #[serde(default)]
    pub exploit_maturity: ExploitMaturity,
    /// Missing = no CVSS at all (worst values assumed).
    pub cvss: Option<Cvss>,
}

/// What the SBOM match and engineering analysis say about the finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    #[serde(rename = "match", default)]
    pub match_status: MatchStatus,
    #[serde(default)]
    pub reach: Reach,
    /// A reviewer signed off the not-reachable justification (a1.3 needs it for X0).
    #[serde(default)]
    pub reach_signed_off: bool,
    /// The signal came from an external reporter (researcher, CERT): CVD acknowledgement due.
    #[serde(default)]
    pub reported_externally: bool,
}

/// IEC 62304 software safety class (A8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SafetyClass {
    A,
    B,
    C,
}

/// Worst ISO 14971 severity linked to the SOUP item (B0 `harm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Harm {
    /// No linked hazard or data asset.
    H0,
    /// Confidentiality / PHI only (not "patient harm", A1-D5).
    H1,
    /// Minor or negligible.
    H2,
    /// Serious: needs professional medical intervention.
    H3,
    /// Critical or catastrophic: death, permanent or life-threatening injury.
    H4,
}

/// Exposure of the vulnerable interface (B0 `exposure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Exposure {
    /// Not reachable (only honoured with a signed-off `reach` justification).
    X0,
    /// Local, physical, short-range RF, or authenticated clinician/service access.
    X1,
    /// Hospital LAN / Wi-Fi / adjacent network / Bluetooth classic.
    X2,
    /// Internet, untrusted network or cloud-exposed interface.
    X3,
}

/// The clinical function the SOUP serves (MITRE rubric categories, A9-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClinicalFunction {
    Therapy,
    DiagnosisMonitoring,
    ClinicalWorkflow,
    None,
}

/// Existing risk controls for the hazards linked to the SOUP item (B0 `ctrl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Controls {
    /// A designed-in control blocks the attack path (signed firmware, physical access needed).
    DesignControlEffective,
    /// A compensating control is documented in the labeling.
    CompensatingDocumented,
    None,
}

/// The SOUP risk record of the software item containing the component.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoupRecord {
    pub safety_class: Option<SafetyClass>,
    pub harm: Option<Harm>,
    pub exposure: Option<Exposure>,
    /// The exposed interface requires authentication (B-b "X3 with no authentication").
    pub auth_required: Option<bool>,
    pub clinical_function: Option<ClinicalFunction>,
    pub controls: Option<Controls>,
}

/// Adverse events linked to this vulnerability (B0 `events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    #[default]
    None,
    Malfunction,
    SeriousInjury,
    Death,
}

/// Complaints, MDR/MIR records and field observations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    #[serde(default)]
    pub reported: EventKind,
    /// An EU serious incident exists (MDR Art. 2(65)), actual or possible.
    #[serde(default)]
    pub serious_incident: bool,
    /// A serious public health threat (MDR Art. 2(66)).
    #[serde(default)]
    pub public_health_threat: bool,
    /// Exploitation of this device was observed (a2.0, d-eu2).
    #[serde(default)]
    pub device_exploitation_observed: bool,
    /// The event needs remedial action to prevent an unreasonable risk of substantial harm to
    /// the public health (803.53 five-day report). Unknown with an event reported = yes.
    pub remedial_action_needed: Option<bool>,
    /// Reasonable probability that use of the device will cause serious adverse health
    /// consequences or death (A1-D3 exclusion, b1).
    #[serde(default)]
    pub serious_consequence_probable: bool,
}

/// A market the device is made available in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    Us,
    Eu,
}

/// US marketing pathway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsPathway {
    #[serde(rename = "510k")]
    K510,
    DeNovo,
    Pma,
    /// 510(k)-exempt or not marketed through a premarket pathway.
    Exempt,
}

/// EU MDR risk class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EuClass {
    I,
    #[serde(rename = "IIa")]
    IIa,
    #[serde(rename = "IIb")]
    IIb,
    #[serde(rename = "III")]
    III,
}

/// An authorised Predetermined Change Control Plan (A5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pccp {
    #[serde(default)]
    pub authorised: bool,
    /// The proposed fix lies inside the PCCP's envelope.
    #[serde(default)]
    pub covers_change: bool,
}

/// The device master record of the released device version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Missing = both markets (more clocks, conservative).
    pub markets: Option<Vec<Market>>,
    pub us_pathway: Option<UsPathway>,
    pub eu_class: Option<EuClass>,
    pub implantable: Option<bool>,
    /// Life-supporting or life-saving (MDCG 2023-3: cyberattack = potential SPHT).
    pub life_supporting: Option<bool>,
    /// Placed on the market under MDD/AIMDD legacy status (MDR Art. 120).
    #[serde(default)]
    pub legacy_mdd: bool,
    pub notified_body: Option<bool>,
    /// FD&C Act 524B cyber device.
    pub cyber_device: Option<bool>,
    /// All four FDA 2016 §IX criteria of active ISAO participation are evidenced (A1.5).
    pub isao_active: Option<bool>,
    #[serde(default)]
    pub pccp: Pccp,
}

/// Forecast of the remediation against the FDA 30/60-day windows (A1-P5(2)(3)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Customer communication by day 30 and a validated, distributed fix by day 60 are
    /// forecast. Unknown = no (806 recommended for an uncontrolled risk).
    pub meets_fda_30_60: Option<bool>,
}

/// Kind of the proposed fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FixKind {
    /// Patch release of the same SOUP minor version (same API).
    Patch,
    /// New minor version of the SOUP, same API.
    Minor,
    /// Configuration change only (e.g. closing a port).
    Config,
    /// No software change: compensating control communicated to users.
    CompensatingOnly,
    /// New major version of the SOUP.
    Major,
    /// The SOUP is replaced by another component.
    Replace,
    /// Port to a new operating system or platform.
    OsPort,
    #[default]
    Unknown,
}

/// The proposed fix and the answers to the FDA 510(k) software-change questions (A4) and the
/// MDCG 2020-3 Chart C questions (A7-D). Unanswered questions leave the fix "not assessed".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    #[serde(default)]
    pub kind: FixKind,
    /// Major change in intended use (807.81(a)(3)(ii); MDR Art. 120(3c)(b)).
    pub changes_intended_use: Option<bool>,
    /// The fix creates or modifies a risk control measure (Q3b, together with H and risk).
    pub changes_risk_controls: Option<bool>,
    /// Q3a: new or modified hazard/cause, pre-mitigation severity serious or worse, not
    /// effectively mitigated in the cleared device.
    pub new_serious_hazard: Option<bool>,
    /// Q4: significant effect on clinical functionality or performance specifications.
    pub affects_clinical_performance: Option<bool>,
    /// 814.39(a): the change affects safety or effectiveness (PMA devices).
    pub affects_safety_effectiveness: Option<bool>,
    /// A3-10: authentication or encryption algorithm change.
    pub changes_auth_or_crypto: Option<bool>,
    /// A3-10 / Chart C4: new connectivity or interoperability channel.
    pub adds_connectivity: Option<bool>,
    /// A3-10: change to the software update process or mechanism.
    pub changes_update_mechanism: Option<bool>,
    /// Regression V&V shows no impact beyond the vulnerable SOUP (Q1 "solely cybersecurity").
    pub regression_clean: Option<bool>,
    /// Chart C1: new or modified architecture, database structure or algorithm.
    pub architecture_change: Option<bool>,
    /// Chart C2: user input replaced by a closed-loop algorithm.
    pub closed_loop: Option<bool>,
    /// Chart C3 qualifier: the SOUP/OS change requires modifying the device software.
    pub device_code_change: Option<bool>,
    /// Chart C4: new user interface, medical feature or data presentation.
    pub new_ui_or_feature: Option<bool>,
    /// Chart C5: the benefit/risk ratio is negatively affected.
    pub benefit_risk_negative: Option<bool>,
}

/// Everything the rules may read about one finding (one CVE x SOUP item x released version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    /// Day 0 of every clock: the earliest awareness by any employee, AR or the daemon.
    pub awareness_date: NaiveDate,
    #[serde(default)]
    pub finding: Finding,
    #[serde(default)]
    pub signals: Signals,
    /// Missing = no SOUP record: class C, worst harm and exposure, no controls (flagged).
    pub soup: Option<SoupRecord>,
    #[serde(default)]
    pub events: Events,
    #[serde(default)]
    pub device: Device,
    #[serde(default)]
    pub remediation: Remediation,
    /// Missing = no fix proposed yet (not assessed).
    pub fix: Option<Fix>,
}

impl TriageInput {
    /// An input with every optional part missing (all conservative defaults apply).
    pub fn new(awareness_date: NaiveDate) -> TriageInput {
        TriageInput {
            awareness_date,
            finding: Finding::default(),
            signals: Signals::default(),
            soup: None,
            events: Events::default(),
            device: Device::default(),
            remediation: Remediation::default(),
            fix: None,
        }
    }
}

/// A value bound to a CEL variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl From<&Var> for cel::Value {
    fn from(var: &Var) -> cel::Value {
        match var {
            Var::Bool(b) => cel::Value::Bool(*b),
            Var::Int(i) => cel::Value::Int(*i),
            Var::Float(f) => cel::Value::Float(*f),
            Var::Str(s) => cel::Value::from(*s),
        }
    }
}

/// The input flattened into CEL variables, plus the conservative defaults that were applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub vars: Vec<(&'static str, Var)>,
    pub assumptions: Vec<String>,
}

/// Records the defaults that were applied, in input order.
struct Assume(Vec<String>);

impl Assume {
    fn or<T>(&mut self, value: Option<T>, worst: T, what: &str) -> T {
        match value {
            Some(v) => v,
            None => {
                self.0.push(what.to_string());
                worst
            }
        }
    }
}

fn match_str(m: MatchStatus) -> &'static str {
    match m {
        MatchStatus::Confirmed => "confirmed",
        MatchStatus::Probable => "probable",
        MatchStatus::Unknown => "unknown",
        MatchStatus::NotInRange => "not_in_range",
    }
}

fn reach_str(r: Reach) -> &'static str {
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

fn maturity_str(m: ExploitMaturity) -> &'static str {
    match m {
        ExploitMaturity::Unreported => "unreported",
        ExploitMaturity::Poc => "poc",
        ExploitMaturity::Functional => "functional",
        ExploitMaturity::Weaponized => "weaponized",
    }
}

fn av_str(av: AttackVector) -> &'static str {
    match av {
        AttackVector::Network => "network",
        AttackVector::Adjacent => "adjacent",
        AttackVector::Local => "local",
        AttackVector::Physical => "physical",
    }
}

fn pr_str(pr: PrivilegesRequired) -> &'static str {
    match pr {
        PrivilegesRequired::None => "none",
        PrivilegesRequired::Low => "low",
        PrivilegesRequired::High => "high",
    }
}

fn ui_str(ui: UserInteraction) -> &'static str {
    match ui {
        UserInteraction::None => "none",
        UserInteraction::Required => "required",
        UserInteraction::Passive => "passive",
        UserInteraction::Active => "active",
    }
}

fn class_str(c: SafetyClass) -> &'static str {
    match c {
        SafetyClass::A => "A",
        SafetyClass::B => "B",
        SafetyClass::C => "C",
    }
}

fn clinical_str(c: ClinicalFunction) -> &'static str {
    match c {
        ClinicalFunction::Therapy => "therapy",
        ClinicalFunction::DiagnosisMonitoring => "diagnosis_monitoring",
        ClinicalFunction::ClinicalWorkflow => "clinical_workflow",
        ClinicalFunction::None => "none",
    }
}

fn controls_str(c: Controls) -> &'static str {
    match c {
        Controls::DesignControlEffective => "design_control_effective",
        Controls::CompensatingDocumented => "compensating_documented",
        Controls::None => "none",
    }
}

fn event_str(e: EventKind) -> &'static str {
    match e {
        EventKind::None => "none",
        EventKind::Malfunction => "malfunction",
        EventKind::SeriousInjury => "serious_injury",
        EventKind::Death => "death",
    }
}

fn pathway_str(p: UsPathway) -> &'static str {
    match p {
        UsPathway::K510 => "510k",
        UsPathway::DeNovo => "de_novo",
        UsPathway::Pma => "pma",
        UsPathway::Exempt => "exempt",
    }
}

fn eu_class_str(c: EuClass) -> &'static str {
    match c {
        EuClass::I => "I",
        EuClass::IIa => "IIa",
        EuClass::IIb => "IIb",
        EuClass::III => "III",
    }
}

fn fix_kind_str(k: FixKind) -> &'static str {
    match k {
        FixKind::Patch => "patch",
        FixKind::Minor => "minor",
        FixKind::Config => "config",
        FixKind::CompensatingOnly => "compensating_only",
        FixKind::Major => "major",
        FixKind::Replace => "replace",
        FixKind::OsPort => "os_port",
        FixKind::Unknown => "unknown",
    }
}

/// A score outside [0, 1] (or NaN) cannot be trusted: treated as unknown.
fn probability(value: Option<f64>) -> Option<f64> {
    value.filter(|v| (0.0..=1.0).contains(v))
}

impl TriageInput {
    /// Applies the conservative defaults and flattens the input into CEL variables.
    pub fn resolve(&self) -> Resolved {
        let mut a = Assume(Vec::new());
        let mut vars: Vec<(&'static str, Var)> = Vec::new();

        // finding
        let f = &self.finding;
        if f.match_status == MatchStatus::Unknown {
            a.0.push("match unknown: treated as affected, under investigation (a1.2)".into());
        }
        if f.reach == Reach::Unknown {
            a.0.push("reachability unknown: treated as reachable".into());
        }
        vars.push(("match_status", Var::Str(match_str(f.match_status))));
        vars.push(("reach", Var::Str(reach_str(f.reach))));
        vars.push(("reach_signed_off", Var::Bool(f.reach_signed_off)));
        vars.push(("reported_externally", Var::Bool(f.reported_externally)));

        // exploit signals
        let s = &self.signals;
        let epss_known = probability(s.epss).is_some();
        let epss = a.or(
            probability(s.epss),
            1.0,
            "EPSS score unknown or out of range: taken as 1.0 (unknown exploitation counts as E2)",
        );
        let epss_percentile = a.or(
            probability(s.epss_percentile),
            1.0,
            "EPSS percentile unknown or out of range: taken as 1.0",
        );
        vars.push(("kev", Var::Bool(s.kev)));
        vars.push(("exploited_in_wild", Var::Bool(s.exploited_in_wild)));
        vars.push(("epss_known", Var::Bool(epss_known)));
        vars.push(("epss", Var::Float(epss)));
        vars.push(("epss_percentile", Var::Float(epss_percentile)));
        vars.push((
            "exploit_maturity",
            Var::Str(maturity_str(s.exploit_maturity)),
        ));
        let cvss = match &s.cvss {
            Some(c) => c.clone(),
            None => {
                a.0.push("no CVSS: worst values assumed (score 10.0, network, no privileges, no interaction)".into());
                Cvss {
                    score: Some(10.0),
                    attack_vector: Some(AttackVector::Network),
                    privileges_required: Some(PrivilegesRequired::None),
                    user_interaction: Some(UserInteraction::None),
                }
            }
        };
        let score = cvss.score.filter(|v| (0.0..=10.0).contains(v));
        vars.push(("cvss_known", Var::Bool(s.cvss.is_some() && score.is_some())));
        vars.push((
            "cvss_score",
            Var::Float(a.or(
                score,
                10.0,
                "CVSS score unknown or out of range: taken as 10.0",
            )),
        ));
        vars.push((
            "cvss_attack_vector",
            Var::Str(av_str(a.or(
                cvss.attack_vector,
                AttackVector::Network,
                "CVSS attack vector unknown: taken as network",
            ))),
        ));
        vars.push((
            "cvss_privileges_required",
            Var::Str(pr_str(a.or(
                cvss.privileges_required,
                PrivilegesRequired::None,
                "CVSS privileges required unknown: taken as none",
            ))),
        ));
        vars.push((
            "cvss_user_interaction",
            Var::Str(ui_str(a.or(
                cvss.user_interaction,
                UserInteraction::None,
                "CVSS user interaction unknown: taken as none",
            ))),
        ));

        // SOUP record
        let soup = match &self.soup {
            Some(r) => r.clone(),
            None => {
                a.0.push("no SOUP record: class C, harm H4, exposure X3, no authentication, therapy, no controls".into());
                SoupRecord {
                    safety_class: Some(SafetyClass::C),
                    harm: Some(Harm::H4),
                    exposure: Some(Exposure::X3),
                    auth_required: Some(false),
                    clinical_function: Some(ClinicalFunction::Therapy),
                    controls: Some(Controls::None),
                }
            }
        };
        vars.push(("soup_record", Var::Bool(self.soup.is_some())));
        vars.push((
            "soup_class",
            Var::Str(class_str(a.or(
                soup.safety_class,
                SafetyClass::C,
                "IEC 62304 class unknown: taken as C",
            ))),
        ));
        vars.push((
            "soup_harm",
            Var::Int(a.or(soup.harm, Harm::H4, "harm unknown: taken as H4") as i64),
        ));
        vars.push((
            "soup_exposure",
            Var::Int(a.or(soup.exposure, Exposure::X3, "exposure unknown: taken as X3") as i64),
        ));
        vars.push((
            "soup_auth_required",
            Var::Bool(a.or(
                soup.auth_required,
                false,
                "authentication on the exposed interface unknown: taken as none",
            )),
        ));
        vars.push((
            "soup_clinical_function",
            Var::Str(clinical_str(a.or(
                soup.clinical_function,
                ClinicalFunction::Therapy,
                "clinical function unknown: taken as therapy delivery",
            ))),
        ));
        vars.push((
            "soup_controls",
            Var::Str(controls_str(a.or(
                soup.controls,
                Controls::None,
                "risk controls unknown: taken as none",
            ))),
        ));

        // events
        let e = &self.events;
        let has_event = e.reported != EventKind::None;
        let remedial = match e.remedial_action_needed {
            Some(v) => v,
            None if has_event => {
                a.0.push("event reported, need for remedial action unknown: taken as needed (803.53 5-day report)".into());
                true
            }
            None => false,
        };
        vars.push(("event", Var::Str(event_str(e.reported))));
        vars.push(("serious_incident", Var::Bool(e.serious_incident)));
        vars.push(("public_health_threat", Var::Bool(e.public_health_threat)));
        vars.push((
            "device_exploitation_observed",
            Var::Bool(e.device_exploitation_observed),
        ));
        vars.push(("remedial_action_needed", Var::Bool(remedial)));
        vars.push((
            "serious_consequence_probable",
            Var::Bool(e.serious_consequence_probable),
        ));

        // device
        let d = &self.device;
        let markets = a.or(
            d.markets.clone(),
            vec![Market::Us, Market::Eu],
            "markets unknown: taken as US and EU",
        );
        vars.push(("market_us", Var::Bool(markets.contains(&Market::Us))));
        vars.push(("market_eu", Var::Bool(markets.contains(&Market::Eu))));
        vars.push((
            "us_pathway",
            Var::Str(pathway_str(a.or(
                d.us_pathway,
                UsPathway::Pma,
                "US pathway unknown: taken as PMA",
            ))),
        ));
        vars.push((
            "eu_class",
            Var::Str(eu_class_str(a.or(
                d.eu_class,
                EuClass::III,
                "EU class unknown: taken as III",
            ))),
        ));
        vars.push((
            "implantable",
            Var::Bool(a.or(d.implantable, true, "implantable unknown: taken as yes")),
        ));
        vars.push((
            "life_supporting",
            Var::Bool(a.or(
                d.life_supporting,
                true,
                "life-supporting unknown: taken as yes",
            )),
        ));
        vars.push(("legacy_mdd", Var::Bool(d.legacy_mdd)));
        vars.push((
            "notified_body",
            Var::Bool(a.or(
                d.notified_body,
                true,
                "notified body unknown: taken as involved",
            )),
        ));
        vars.push((
            "cyber_device",
            Var::Bool(a.or(
                d.cyber_device,
                true,
                "cyber device (524B) unknown: taken as yes",
            )),
        ));
        vars.push((
            "isao_active",
            Var::Bool(a.or(
                d.isao_active,
                false,
                "active ISAO participation unknown: taken as no (no FDA enforcement discretion)",
            )),
        ));
        vars.push(("pccp_authorised", Var::Bool(d.pccp.authorised)));
        vars.push(("pccp_covers_change", Var::Bool(d.pccp.covers_change)));

        // remediation forecast
        vars.push((
            "meets_fda_30_60",
            Var::Bool(a.or(
                self.remediation.meets_fda_30_60,
                false,
                "remediation forecast unknown: FDA 30/60-day windows taken as missed",
            )),
        ));

        // fix
        let (fix, fix_present) = match &self.fix {
            Some(fix) => (fix.clone(), true),
            None => {
                a.0.push("no fix proposed: change classification not assessed".into());
                (Fix::default(), false)
            }
        };
        let answers: [(&'static str, Option<bool>); 14] = [
            ("fix_changes_intended_use", fix.changes_intended_use),
            ("fix_changes_risk_controls", fix.changes_risk_controls),
            ("fix_new_serious_hazard", fix.new_serious_hazard),
            (
                "fix_affects_clinical_performance",
                fix.affects_clinical_performance,
            ),
            (
                "fix_affects_safety_effectiveness",
                fix.affects_safety_effectiveness,
            ),
            ("fix_changes_auth_or_crypto", fix.changes_auth_or_crypto),
            ("fix_adds_connectivity", fix.adds_connectivity),
            ("fix_changes_update_mechanism", fix.changes_update_mechanism),
            ("fix_regression_clean", fix.regression_clean),
            ("fix_architecture_change", fix.architecture_change),
            ("fix_closed_loop", fix.closed_loop),
            ("fix_device_code_change", fix.device_code_change),
            ("fix_new_ui_or_feature", fix.new_ui_or_feature),
            ("fix_benefit_risk_negative", fix.benefit_risk_negative),
        ];
        let unanswered: Vec<&str> = answers
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| name.trim_start_matches("fix_"))
            .collect();
        let assessed = fix_present && fix.kind != FixKind::Unknown && unanswered.is_empty();
        if fix_present && !unanswered.is_empty() {
            a.0.push(format!(
                "fix not fully assessed, unanswered: {}",
                unanswered.join(", ")
            ));
        }
        if fix_present && fix.kind == FixKind::Unknown {
            a.0.push("fix kind unknown: change classification not assessed".into());
        }
        vars.push(("fix_kind", Var::Str(fix_kind_str(fix.kind))));
        vars.push(("fix_assessed", Var::Bool(assessed)));
        for (name, value) in answers {
            // Unanswered questions read as "no" here; `fix_assessed` is false, and the rules
            // route a not-assessed fix to review before any "document only" outcome.
            vars.push((name, Var::Bool(value.unwrap_or(false))));
        }

        Resolved {
            vars,
            assumptions: a.0,
        }
    }
}

/// The names of every input variable the rules may read.
pub fn input_variable_names() -> Vec<&'static str> {
    let probe = TriageInput::new(NaiveDate::default());
    probe
        .resolve()
        .vars
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var<'a>(r: &'a Resolved, name: &str) -> &'a Var {
        &r.vars.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn missing_soup_record_is_worst_case_and_flagged() {
        let input = TriageInput::new(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        let r = input.resolve();
        assert_eq!(var(&r, "soup_class"), &Var::Str("C"));
        assert_eq!(var(&r, "soup_harm"), &Var::Int(4));
        assert_eq!(var(&r, "soup_exposure"), &Var::Int(3));
        assert_eq!(var(&r, "soup_record"), &Var::Bool(false));
        assert_eq!(var(&r, "isao_active"), &Var::Bool(false));
        assert_eq!(var(&r, "market_us"), &Var::Bool(true));
        assert_eq!(var(&r, "market_eu"), &Var::Bool(true));
        assert_eq!(var(&r, "fix_assessed"), &Var::Bool(false));
        assert!(r
            .assumptions
            .iter()
            .any(|a| a.starts_with("no SOUP record")));
        assert!(r
            .assumptions
            .iter()
            .any(|a| a.starts_with("EPSS score unknown")));
    }

    #[test]
    fn known_values_need_no_assumption() {
        let json = r#"{
            "awareness_date": "2026-01-05",
            "finding": {"match": "confirmed", "reach": "reachable"},
            "signals": {"epss": 0.2, "epss_percentile": 0.9,
                        "cvss": {"score": 7.5, "attack_vector": "adjacent",
                                 "privileges_required": "low", "user_interaction": "none"}},
            "soup": {"safety_class": "B", "harm": "H3", "exposure": "X2", "auth_required": true,
                     "clinical_function": "diagnosis_monitoring", "controls": "none"},
            "device": {"markets": ["eu"], "us_pathway": "510k", "eu_class": "IIa", "implantable": false,
                       "life_supporting": false, "notified_body": true, "cyber_device": true,
                       "isao_active": true},
            "remediation": {"meets_fda_30_60": true},
            "fix": {"kind": "patch", "changes_intended_use": false, "changes_risk_controls": false,
                    "new_serious_hazard": false, "affects_clinical_performance": false,
                    "affects_safety_effectiveness": false, "changes_auth_or_crypto": false,
                    "adds_connectivity": false, "changes_update_mechanism": false,
                    "regression_clean": true, "architecture_change": false, "closed_loop": false,
                    "device_code_change": false, "new_ui_or_feature": false,
                    "benefit_risk_negative": false}
        }"#;
        let input: TriageInput = serde_json::from_str(json).unwrap();
        let r = input.resolve();
        assert!(r.assumptions.is_empty(), "{:?}", r.assumptions);
        assert_eq!(var(&r, "market_us"), &Var::Bool(false));
        assert_eq!(var(&r, "eu_class"), &Var::Str("IIa"));
        assert_eq!(var(&r, "soup_harm"), &Var::Int(3));
        assert_eq!(var(&r, "cvss_attack_vector"), &Var::Str("adjacent"));
        assert_eq!(var(&r, "fix_assessed"), &Var::Bool(true));
        assert_eq!(var(&r, "epss"), &Var::Float(0.2));
    }

    #[test]
    fn out_of_range_scores_are_treated_as_unknown() {
        let mut input = TriageInput::new(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        input.signals.epss = Some(f64::NAN);
        input.signals.epss_percentile = Some(7.0);
        let r = input.resolve();
        assert_eq!(var(&r, "epss"), &Var::Float(1.0));
        assert_eq!(var(&r, "epss_known"), &Var::Bool(false));
        assert_eq!(var(&r, "epss_percentile"), &Var::Float(1.0));
    }

    #[test]
    fn partly_answered_fix_is_not_assessed() {
        let mut input = TriageInput::new(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        input.fix = Some(Fix {
            kind: FixKind::Patch,
            regression_clean: Some(true),
            ..Fix::default()
        });
        let r = input.resolve();
        assert_eq!(var(&r, "fix_assessed"), &Var::Bool(false));
        assert_eq!(var(&r, "fix_regression_clean"), &Var::Bool(true));
        assert!(r
            .assumptions
            .iter()
            .any(|a| a.contains("unanswered") && a.contains("closed_loop")));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"awareness_date": "2026-01-05", "soup": {"harm": "H2", "hram": "H4"}}"#;
        assert!(serde_json::from_str::<TriageInput>(json).is_err());
        let json = r#"{"awareness_date": "2026-01-05", "soup": {"harm": "H5"}}"#;
        assert!(serde_json::from_str::<TriageInput>(json).is_err());
    }

    #[test]
    fn variable_names_are_unique() {
        let names = input_variable_names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
