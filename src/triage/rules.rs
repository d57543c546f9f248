//! The rules file: parsing, validation and compilation of `config/rules.toml` (format in
//! docs/rules.md). A file holds a `version`, `[params]` (thresholds the conditions read),
//! an optional `[example_base]` input, and the ordered decision tables; every rule has a CEL
//! condition compiled once at load time with the `cel` crate. `check` reports every problem of
//! a file at once (syntax, missing or bad fields, expressions that do not compile, variables
//! not known at that table, duplicate ids, tables without a final catch-all) and then runs each
//! rule's `example` to prove the rule can fire. Pure: the text is passed in.

use std::collections::{BTreeSet, HashSet};

use cel::common::ast::{EntryExpr, Expr};
use cel::{IdedExpr, Program};
use sha2::{Digest, Sha256};

use super::days::DayKind;
use super::eval::{evaluate, ChangeEu, ChangeUs, Exploitability, Priority, RiskClass};
use super::input::{input_variable_names, TriageInput};

/// What kind of problem a [`RulesError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesErrorKind {
    /// The text is not valid TOML.
    Syntax,
    /// A key, table or rule is missing, misplaced or unknown.
    Structure,
    /// A field has the wrong type or a value outside its vocabulary.
    InvalidValue,
    /// A `when` condition does not compile.
    Expression,
    /// A condition reads a variable that is not an input, a parameter or an earlier table.
    UnknownVariable,
    /// Two rules share an id.
    DuplicateId,
    /// A table does not end in a rule whose condition is `true`.
    NoCatchAll,
    /// A condition failed at evaluation or did not yield a boolean.
    Evaluation,
    /// A rule's `example` is not a valid input or does not make the rule fire.
    Example,
}

impl RulesErrorKind {
    fn label(self) -> &'static str {
        match self {
            RulesErrorKind::Syntax => "syntax",
            RulesErrorKind::Structure => "structure",
            RulesErrorKind::InvalidValue => "invalid value",
            RulesErrorKind::Expression => "expression",
            RulesErrorKind::UnknownVariable => "unknown variable",
            RulesErrorKind::DuplicateId => "duplicate id",
            RulesErrorKind::NoCatchAll => "no catch-all",
            RulesErrorKind::Evaluation => "evaluation",
            RulesErrorKind::Example => "example",
        }
    }
}

/// A problem in a rules file (or in evaluating it), located by table, rule and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RulesError {
    pub kind: RulesErrorKind,
    pub table: Option<String>,
    pub rule: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl RulesError {
    pub(crate) fn new(kind: RulesErrorKind, message: impl Into<String>) -> RulesError {
        RulesError {
            kind,
            table: None,
            rule: None,
            field: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(
        mut self,
        table: Option<&str>,
        rule: Option<&str>,
        field: Option<&str>,
    ) -> RulesError {
        self.table = table.map(str::to_string);
        self.rule = rule.map(str::to_string);
        self.field = field.map(str::to_string);
        self
    }

    fn describe(&self) -> String {
        let mut place = Vec::new();
        if let Some(t) = &self.table {
            place.push(format!("table `{t}`"));
        }
        if let Some(r) = &self.rule {
            place.push(format!("rule `{r}`"));
        }
        if let Some(f) = &self.field {
            place.push(format!("field `{f}`"));
        }
        if place.is_empty() {
            format!("{}: {}", self.kind.label(), self.message)
        } else {
            format!(
                "{}: {}: {}",
                self.kind.label(),
                place.join(", "),
                self.message
            )
        }
    }
}

/// The decision tables, in the order they are evaluated. Each table's outcome becomes a
/// variable that later tables may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableKind {
    Exploit,
    Exposure,
    Harm,
    Exploitability,
    Priority,
    Risk,
    ChangeUs,
    ChangeEu,
    Fsca,
    Notifications,
}

impl TableKind {
    /// Every table, in evaluation order (the file must list them in this order).
    pub const ALL: [TableKind; 10] = [
        TableKind::Exploit,
        TableKind::Exposure,
        TableKind::Harm,
        TableKind::Exploitability,
        TableKind::Priority,
        TableKind::Risk,
        TableKind::ChangeUs,
        TableKind::ChangeEu,
        TableKind::Fsca,
        TableKind::Notifications,
    ];

    /// The table's `name` in the rules file.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Exploit => "exploit",
            TableKind::Exposure => "exposure",
            TableKind::Harm => "harm",
            TableKind::Exploitability => "exploitability",
            TableKind::Priority => "priority",
            TableKind::Risk => "risk",
            TableKind::ChangeUs => "change_us",
            TableKind::ChangeEu => "change_eu",
            TableKind::Fsca => "fsca",
            TableKind::Notifications => "notifications",
        }
    }

    /// The CEL variable that holds the table's outcome for later tables.
    pub fn variable(self) -> Option<&'static str> {
        match self {
            TableKind::Exploit => Some("E"),
            TableKind::Exposure => Some("X"),
            TableKind::Harm => Some("H"),
            TableKind::Exploitability => Some("exploitability"),
            TableKind::Priority => Some("priority"),
            TableKind::Risk => Some("risk"),
            TableKind::ChangeUs => Some("change_us"),
            TableKind::ChangeEu => Some("change_eu"),
            TableKind::Fsca => Some("fsca"),
            TableKind::Notifications => None,
        }
    }

    /// Notifications: every matching rule adds a notification. Every other table: the first
    /// matching rule decides.
    pub fn all_match(self) -> bool {
        self == TableKind::Notifications
    }

    fn mode(self) -> &'static str {
        if self.all_match() {
            "all_match"
        } else {
            "first_match"
        }
    }

    fn from_name(name: &str) -> Option<TableKind> {
        TableKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The source class of a rule (legend of docs/regulatory-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Basis {
    #[serde(rename = "LAW")]
    Law,
    #[serde(rename = "GUIDANCE")]
    Guidance,
    #[serde(rename = "STD")]
    Std,
    #[serde(rename = "INDUSTRY")]
    Industry,
    #[serde(rename = "PROPOSAL")]
    Proposal,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Law => "LAW",
            Basis::Guidance => "GUIDANCE",
            Basis::Std => "STD",
            Basis::Industry => "INDUSTRY",
            Basis::Proposal => "PROPOSAL",
        }
    }

    fn parse(text: &str) -> Option<Basis> {
        [
            Basis::Law,
            Basis::Guidance,
            Basis::Std,
            Basis::Industry,
            Basis::Proposal,
        ]
        .into_iter()
        .find(|b| b.as_str() == text)
    }
}

/// What a notification rule asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifySpec {
    pub recipient: String,
    pub days: u32,
    pub day_kind: DayKind,
    pub note: String,
}

/// The typed outcome of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// E, X or H level (0-3 or 0-4).
    Level(u8),
    Exploitability(Exploitability),
    Priority(Priority),
    Risk(RiskClass),
    ChangeUs(ChangeUs),
    ChangeEu(ChangeEu),
    Fsca(bool),
    Notify(NotifySpec),
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub when: String,
    pub(crate) program: Program,
    pub outcome: Outcome,
    pub rationale: String,
    pub basis: Basis,
    pub source: String,
    /// A flag raised in the decision when the rule fires (e.g. RISK_RECORD_INCONSISTENT).
    pub flag: Option<String>,
    /// Input overrides (merged over `[example_base]`) that make this rule fire.
    pub example: Option<toml::Table>,
}

/// One ordered table of rules.
#[derive(Debug)]
pub struct Table {
    pub kind: TableKind,
    pub description: String,
    pub rules: Vec<Rule>,
}

/// A parsed and compiled rules file.
#[derive(Debug)]
pub struct RuleSet {
    pub version: String,
    /// SHA-256 of the file's bytes, lower-case hex: recorded in every decision.
    pub sha256: String,
    pub(crate) params: Vec<(String, cel::Value)>,
    pub tables: Vec<Table>,
    pub example_base: Option<toml::Table>,
}

impl RuleSet {
    /// The table of a kind (every kind is present in a loaded rule set).
    pub fn table(&self, kind: TableKind) -> Option<&Table> {
        self.tables.iter().find(|t| t.kind == kind)
    }
}

/// What `check` reports for a valid file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleSummary {
    pub version: String,
    pub sha256: String,
    /// Table names with their rule ids, in evaluation order.
    pub tables: Vec<(String, Vec<String>)>,
    /// Rules without an `example`, so not proven reachable.
    pub warnings: Vec<String>,
}

/// The SHA-256 of a rules text, lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Parses and compiles a rules file; the first problem found is returned.
pub fn load_rules(text: &str) -> Result<RuleSet, RulesError> {
    let mut errors = Vec::new();
    match parse(text, &mut errors) {
        Some(set) if errors.is_empty() => Ok(set),
        _ => Err(errors.into_iter().next().unwrap_or_else(|| {
            RulesError::new(RulesErrorKind::Structure, "rules file could not be loaded")
        })),
    }
}

/// Validates a rules file and reports every problem: structure, expressions, unknown
/// variables, duplicate ids, missing catch-alls, and rules whose `example` does not fire them.
pub fn check(text: &str) -> Result<RuleSummary, Vec<RulesError>> {
    let mut errors = Vec::new();
    let parsed = parse(text, &mut errors);
    let set = match parsed {
        Some(set) if errors.is_empty() => set,
        _ => return Err(errors),
    };
    let mut warnings = Vec::new();
    for table in &set.tables {
        for rule in &table.rules {
            match &rule.example {
                None => warnings.push(format!(
                    "table `{}`, rule `{}`: no example, reachability not shown",
                    table.kind.name(),
                    rule.id
                )),
                Some(example) => {
                    if let Err(e) = run_example(&set, table.kind, rule, example) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RuleSummary {
        version: set.version.clone(),
        sha256: set.sha256.clone(),
        tables: set
            .tables
            .iter()
            .map(|t| {
                (
                    t.kind.name().to_string(),
                    t.rules.iter().map(|r| r.id.clone()).collect(),
                )
            })
            .collect(),
        warnings,
    })
}

/// Builds the input of a rule's example: `[example_base]` deep-merged with the example.
pub fn example_input(set: &RuleSet, example: &toml::Table) -> Result<TriageInput, String> {
    let mut base = match &set.example_base {
        Some(b) => toml_to_json(&toml::Value::Table(b.clone())),
        None => serde_json::Value::Object(serde_json::Map::new()),
    };
    merge(
        &mut base,
        toml_to_json(&toml::Value::Table(example.clone())),
    );
    serde_json::from_value(base).map_err(|e| e.to_string())
}

/// Runs one rule's example and checks that the rule fired in its table.
fn run_example(
    set: &RuleSet,
    kind: TableKind,
    rule: &Rule,
    example: &toml::Table,
) -> Result<(), RulesError> {
    let here = |e: RulesError| e.at(Some(kind.name()), Some(&rule.id), Some("example"));
    let input = example_input(set, example).map_err(|m| {
        here(RulesError::new(
            RulesErrorKind::Example,
            format!("not a valid triage input: {m}"),
        ))
    })?;
    let decision = evaluate(set, &input).map_err(|e| {
        here(RulesError::new(
            RulesErrorKind::Example,
            format!("evaluation failed: {e}"),
        ))
    })?;
    let fired: Vec<&str> = decision
        .trace
        .iter()
        .filter(|t| t.table == kind.name())
        .map(|t| t.rule.as_str())
        .collect();
    if fired.contains(&rule.id.as_str()) {
        Ok(())
    } else {
        Err(here(RulesError::new(
            RulesErrorKind::Example,
            format!(
                "the example does not make this rule fire (fired: {})",
                fired.join(", ")
            ),
        )))
    }
}

pub(crate) fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(*b),
        // TOML dates (`awareness_date = 2026-03-02`) become their ISO text.
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Deep merge of JSON objects; anything else in `over` replaces `base`.
pub(crate) fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

const TOP_KEYS: [&str; 4] = ["version", "params", "example_base", "tables"];
const TABLE_KEYS: [&str; 4] = ["name", "mode", "description", "rules"];
const RULE_KEYS: [&str; 12] = [
    "id",
    "when",
    "outcome",
    "rationale",
    "basis",
    "source",
    "flag",
    "example",
    "recipient",
    "days",
    "day_kind",
    "note",
];

fn err(kind: RulesErrorKind, msg: impl Into<String>) -> RulesError {
    RulesError::new(kind, msg)
}

/// Parses the whole file, pushing every problem into `errors`. Returns a rule set when the
/// structure could be read at all (it is only usable if `errors` stays empty).
fn parse(text: &str, errors: &mut Vec<RulesError>) -> Option<RuleSet> {
    let doc: toml::Table = match text.parse::<toml::Table>() {
        Ok(doc) => doc,
        Err(e) => {
            errors.push(err(
                RulesErrorKind::Syntax,
                e.to_string().trim_end().to_string(),
            ));
            return None;
        }
    };
    for key in doc.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            errors.push(
                err(
                    RulesErrorKind::Structure,
                    format!("unknown top-level key `{key}`"),
                )
                .at(None, None, Some(key)),
            );
        }
    }
    let version = match doc.get("version") {
        Some(toml::Value::String(v)) if !v.trim().is_empty() => v.clone(),
        Some(_) => {
            errors.push(
                err(RulesErrorKind::InvalidValue, "must be a non-empty string").at(
                    None,
                    None,
                    Some("version"),
                ),
            );
            String::new()
        }
        None => {
            errors.push(
                err(RulesErrorKind::Structure, "missing file-level `version`").at(
                    None,
                    None,
                    Some("version"),
                ),
            );
            String::new()
        }
    };

    let input_names: HashSet<&'static str> = input_variable_names().into_iter().collect();
    let table_vars: HashSet<&'static str> =
        TableKind::ALL.iter().filter_map(|k| k.variable()).collect();

    let mut params = Vec::new();
    match doc.get("params") {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (name, value) in t {
                let field = format!("params.{name}");
                if input_names.contains(name.as_str()) || table_vars.contains(name.as_str()) {
                    errors.push(
                        err(
                            RulesErrorKind::InvalidValue,
                            "parameter name clashes with an input or table variable",
                        )
                        .at(None, None, Some(&field)),
                    );
                    continue;
                }
                let v = match value {
                    toml::Value::Integer(i) => cel::Value::Int(*i),
                    toml::Value::Float(f) => cel::Value::Float(*f),
                    toml::Value::Boolean(b) => cel::Value::Bool(*b),
                    toml::Value::String(s) => cel::Value::from(s.clone()),
                    _ => {
                        errors.push(
                            err(
                                RulesErrorKind::InvalidValue,
                                "a parameter must be a number, boolean or string",
                            )
                            .at(None, None, Some(&field)),
                        );
                        continue;
                    }
                };
                params.push((name.clone(), v));
            }
        }
        Some(_) => errors.push(err(RulesErrorKind::InvalidValue, "must be a table").at(
            None,
            None,
            Some("params"),
        )),
    }

    let example_base = match doc.get("example_base") {
        None => None,
        Some(toml::Value::Table(t)) => Some(t.clone()),
        Some(_) => {
            errors.push(err(RulesErrorKind::InvalidValue, "must be a table").at(
                None,
                None,
                Some("example_base"),
            ));
            None
        }
    };

    let raw_tables = match doc.get("tables") {
        Some(toml::Value::Array(items)) => items.as_slice(),
        Some(_) => {
            errors.push(
                err(
                    RulesErrorKind::InvalidValue,
                    "must be an array of tables ([[tables]])",
                )
                .at(None, None, Some("tables")),
            );
            &[]
        }
        None => {
            errors.push(err(RulesErrorKind::Structure, "no [[tables]]").at(
                None,
                None,
                Some("tables"),
            ));
            &[]
        }
    };

    // Names visible to a table: inputs, parameters, and the outcomes of earlier tables.
    let mut visible: HashSet<String> = input_names.iter().map(|s| s.to_string()).collect();
    visible.extend(params.iter().map(|(n, _)| n.clone()));

    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut last_kind: Option<TableKind> = None;
    for (index, raw) in raw_tables.iter().enumerate() {
        let Some(raw) = raw.as_table() else {
            errors.push(err(
                RulesErrorKind::InvalidValue,
                format!("tables[{index}] is not a table"),
            ));
            continue;
        };
        let name = raw.get("name").and_then(toml::Value::as_str).unwrap_or("");
        let Some(kind) = TableKind::from_name(name) else {
            let known: Vec<&str> = TableKind::ALL.iter().map(|k| k.name()).collect();
            errors.push(
                err(
                    RulesErrorKind::Structure,
                    format!(
                        "tables[{index}]: unknown or missing table name `{name}` (known: {})",
                        known.join(", ")
                    ),
                )
                .at(None, None, Some("name")),
            );
            continue;
        };
        let tname = Some(kind.name());
        if tables.iter().any(|t| t.kind == kind) {
            errors
                .push(err(RulesErrorKind::Structure, "table appears twice").at(tname, None, None));
            continue;
        }
        if last_kind.is_some_and(|prev| prev > kind) {
            errors.push(err(
                RulesErrorKind::Structure,
                "tables must appear in evaluation order: exploit, exposure, harm, exploitability, priority, risk, change_us, change_eu, fsca, notifications",
            )
            .at(tname, None, None));
        }
        last_kind = Some(kind);
        for key in raw.keys() {
            if !TABLE_KEYS.contains(&key.as_str()) {
                errors.push(
                    err(RulesErrorKind::Structure, format!("unknown key `{key}`")).at(
                        tname,
                        None,
                        Some(key),
                    ),
                );
            }
        }
        match raw.get("mode").and_then(toml::Value::as_str) {
            Some(mode) if mode == kind.mode() => {}
            Some(mode) => errors.push(
                err(
                    RulesErrorKind::InvalidValue,
                    format!("mode `{mode}`: this table is `{}`", kind.mode()),
                )
                .at(tname, None, Some("mode")),
            ),
            None => errors.push(
                err(
                    RulesErrorKind::Structure,
                    format!("missing `mode` (must be `{}`)", kind.mode()),
                )
                .at(tname, None, Some("mode")),
            ),
        }
        let description = raw
            .get("description")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .to_string();
        let raw_rules = match raw.get("rules") {
            Some(toml::Value::Array(items)) => items.as_slice(),
            _ => {
                errors.push(err(RulesErrorKind::Structure, "no [[tables.rules]]").at(
                    tname,
                    None,
                    Some("rules"),
                ));
                &[]
            }
        };
        // Tables listed out of order still see only the variables of earlier kinds.
        let mut table_visible = visible.clone();
        for earlier in TableKind::ALL.iter().filter(|k| **k < kind) {
            if let Some(v) = earlier.variable() {
                table_visible.insert(v.to_string());
            }
        }
        let mut rules = Vec::new();
        for (rindex, raw_rule) in raw_rules.iter().enumerate() {
            if let Some(rule) = parse_rule(
                kind,
                rindex,
                raw_rule,
                &table_visible,
                &mut seen_ids,
                errors,
            ) {
                rules.push(rule);
            }
        }
        match raw_rules.last() {
            None => {}
            Some(last) => {
                let when = last
                    .get("when")
                    .and_then(toml::Value::as_str)
                    .map(str::trim);
                if when != Some("true") {
                    let id = last.get("id").and_then(toml::Value::as_str);
                    errors.push(
                        err(RulesErrorKind::NoCatchAll, "the last rule of a table must have `when = \"true\"` so evaluation always decides")
                            .at(tname, id, Some("when")),
                    );
                }
            }
        }
        if raw_rules.is_empty() {
            errors.push(err(RulesErrorKind::NoCatchAll, "table has no rules").at(
                tname,
                None,
                Some("rules"),
            ));
        }
        tables.push(Table {
            kind,
            description,
            rules,
        });
    }
    for kind in TableKind::ALL {
        if !raw_tables.is_empty() && !tables.iter().any(|t| t.kind == kind) {
            errors.push(
                err(RulesErrorKind::Structure, "required table is missing").at(
                    Some(kind.name()),
                    None,
                    None,
                ),
            );
        }
    }
    tables.sort_by_key(|t| t.kind);
    Some(RuleSet {
        version,
        sha256: sha256_hex(text),
        params,
        tables,
        example_base,
    })
}

fn parse_rule(
    kind: TableKind,
    index: usize,
    raw: &toml::Value,
    visible: &HashSet<String>,
    seen_ids: &mut HashSet<String>,
    errors: &mut Vec<RulesError>,
) -> Option<Rule> {
    let tname = Some(kind.name());
    let Some(raw) = raw.as_table() else {
        errors.push(
            err(
                RulesErrorKind::InvalidValue,
                format!("rules[{index}] is not a table"),
            )
            .at(tname, None, None),
        );
        return None;
    };
    let before = errors.len();
    let id = match raw.get("id").and_then(toml::Value::as_str) {
        Some(id) if !id.trim().is_empty() => id.to_string(),
        _ => {
            errors.push(
                err(
                    RulesErrorKind::Structure,
                    format!("rules[{index}] has no `id`"),
                )
                .at(tname, None, Some("id")),
            );
            format!("#{index}")
        }
    };
    let rid = Some(id.as_str());
    if !seen_ids.insert(id.clone()) {
        errors.push(
            err(
                RulesErrorKind::DuplicateId,
                "this id is already used by another rule",
            )
            .at(tname, rid, Some("id")),
        );
    }
    for key in raw.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            errors.push(
                err(RulesErrorKind::Structure, format!("unknown key `{key}`")).at(
                    tname,
                    rid,
                    Some(key),
                ),
            );
        }
    }
    let text = |field: &str, errors: &mut Vec<RulesError>| -> String {
        match raw.get(field) {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(_) => {
                errors.push(
                    err(RulesErrorKind::InvalidValue, "must be a non-empty string").at(
                        tname,
                        rid,
                        Some(field),
                    ),
                );
                String::new()
            }
            None => {
                errors.push(err(RulesErrorKind::Structure, "missing").at(tname, rid, Some(field)));
                String::new()
            }
        }
    };
    let when = text("when", errors);
    let rationale = text("rationale", errors);
    let source = text("source", errors);
    let basis_text = text("basis", errors);
    let basis = Basis::parse(&basis_text);
    if basis.is_none() && !basis_text.is_empty() {
        errors.push(
            err(
                RulesErrorKind::InvalidValue,
                format!("`{basis_text}` is not one of LAW, GUIDANCE, STD, INDUSTRY, PROPOSAL"),
            )
            .at(tname, rid, Some("basis")),
        );
    }
    let flag = match raw.get("flag") {
        None => None,
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(
                err(RulesErrorKind::InvalidValue, "must be a non-empty string").at(
                    tname,
                    rid,
                    Some("flag"),
                ),
            );
            None
        }
    };
    let example = match raw.get("example") {
        None => None,
        Some(toml::Value::Table(t)) => Some(t.clone()),
        Some(_) => {
            errors.push(
                err(
                    RulesErrorKind::InvalidValue,
                    "must be a table of input overrides",
                )
                .at(tname, rid, Some("example")),
            );
            None
        }
    };

    let program = if when.is_empty() {
        None
    } else {
        match Program::compile(&when) {
            Ok(p) => {
                for name in free_variables(p.expression()) {
                    if !visible.contains(&name) {
                        let later = TableKind::ALL
                            .iter()
                            .any(|k| k.variable() == Some(name.as_str()));
                        let why = if later {
                            format!("`{name}` is decided by a later table and cannot be read here")
                        } else {
                            format!("`{name}` is not an input variable, a parameter or a table outcome (see docs/rules.md)")
                        };
                        errors.push(err(RulesErrorKind::UnknownVariable, why).at(
                            tname,
                            rid,
                            Some("when"),
                        ));
                    }
                }
                Some(p)
            }
            Err(e) => {
                errors.push(
                    err(
                        RulesErrorKind::Expression,
                        format!("does not compile: {}", e.to_string().replace('\n', " ")),
                    )
                    .at(tname, rid, Some("when")),
                );
                None
            }
        }
    };

    let outcome = parse_outcome(kind, raw, tname, rid, errors);
    match (program, outcome, basis) {
        (Some(program), Some(outcome), Some(basis)) if errors.len() == before => Some(Rule {
            id,
            when,
            program,
            outcome,
            rationale,
            basis,
            source,
            flag,
            example,
        }),
        _ => None,
    }
}

fn parse_outcome(
    kind: TableKind,
    raw: &toml::Table,
    tname: Option<&str>,
    rid: Option<&str>,
    errors: &mut Vec<RulesError>,
) -> Option<Outcome> {
    let bad = |errors: &mut Vec<RulesError>, msg: String, field: &str| {
        errors.push(err(RulesErrorKind::InvalidValue, msg).at(tname, rid, Some(field)));
        None
    };
    if kind == TableKind::Notifications {
        if raw.contains_key("outcome") {
            return bad(
                errors,
                "notification rules use recipient/days/day_kind/note, not `outcome`".into(),
                "outcome",
            );
        }
        let recipient = raw
            .get("recipient")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        if recipient.is_empty() {
            return bad(errors, "missing or empty recipient".into(), "recipient");
        }
        let days = match raw
            .get("days")
            .and_then(toml::Value::as_integer)
            .map(u32::try_from)
        {
            Some(Ok(d)) if d <= 3660 => d,
            _ => {
                return bad(
                    errors,
                    "days must be an integer from 0 to 3660".into(),
                    "days",
                )
            }
        };
        let day_kind = match raw
            .get("day_kind")
            .and_then(toml::Value::as_str)
            .and_then(DayKind::parse)
        {
            Some(k) => k,
            None => {
                return bad(
                    errors,
                    "day_kind must be calendar, working or calendar_next_working_day".into(),
                    "day_kind",
                )
            }
        };
        let note = raw
            .get("note")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .to_string();
        return Some(Outcome::Notify(NotifySpec {
            recipient,
            days,
            day_kind,
            note,
        }));
    }
    for field in ["recipient", "days", "day_kind", "note"] {
        if raw.contains_key(field) {
            return bad(
                errors,
                "only notification rules have this field".into(),
                field,
            );
        }
    }
    let Some(value) = raw.get("outcome") else {
        errors.push(err(RulesErrorKind::Structure, "missing").at(tname, rid, Some("outcome")));
        return None;
    };
    if kind == TableKind::Fsca {
        return match value.as_bool() {
            Some(b) => Some(Outcome::Fsca(b)),
            None => bad(errors, "must be true or false".into(), "outcome"),
        };
    }
    let text = value.as_str().unwrap_or("");
    let level = |prefix: char, max: u8| -> Option<u8> {
        let mut chars = text.chars();
        if chars.next() != Some(prefix) {
            return None;
        }
        chars.as_str().parse::<u8>().ok().filter(|n| *n <= max)
    };
    let parsed = match kind {
        TableKind::Exploit => level('E', 3).map(Outcome::Level),
        TableKind::Exposure => level('X', 3).map(Outcome::Level),
        TableKind::Harm => level('H', 4).map(Outcome::Level),
        TableKind::Exploitability => Exploitability::parse(text).map(Outcome::Exploitability),
        TableKind::Priority => Priority::parse(text).map(Outcome::Priority),
        TableKind::Risk => RiskClass::parse(text).map(Outcome::Risk),
        TableKind::ChangeUs => ChangeUs::parse(text).map(Outcome::ChangeUs),
        TableKind::ChangeEu => ChangeEu::parse(text).map(Outcome::ChangeEu),
        TableKind::Fsca | TableKind::Notifications => None,
    };
    match parsed {
        Some(o) => Some(o),
        None => {
            let expected = match kind {
                TableKind::Exploit => "E0..E3",
                TableKind::Exposure => "X0..X3",
                TableKind::Harm => "H0..H4",
                TableKind::Exploitability => "low, medium, high",
                TableKind::Priority => "P0..P4",
                TableKind::Risk => "controlled, uncontrolled",
                TableKind::ChangeUs => {
                    "document_only, premarket_review, new_submission_likely, within_pccp"
                }
                TableKind::ChangeEu => "non_significant, potentially_significant, significant",
                TableKind::Fsca | TableKind::Notifications => "",
            };
            bad(
                errors,
                format!("`{value}` is not one of {expected}"),
                "outcome",
            )
        }
    }
}

/// Identifiers an expression reads that are not bound by one of its own comprehension
/// macros (`exists`, `all`, `map`, `filter`).
pub(crate) fn free_variables(expr: &IdedExpr) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(expr, &mut Vec::new(), &mut out);
    out
}

fn walk(expr: &IdedExpr, bound: &mut Vec<String>, out: &mut BTreeSet<String>) {
    match &expr.expr {
        Expr::Unspecified | Expr::Literal(_) => {}
        Expr::Ident(name) => {
            // '@' names are the macro expander's internal accumulators.
            if !name.starts_with('@') && !bound.iter().any(|b| b == name) {
                out.insert(name.clone());
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                walk(target, bound, out);
            }
            for arg in &call.args {
                walk(arg, bound, out);
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, out);
            walk(&c.accu_init, bound, out);
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            walk(&c.loop_cond, bound, out);
            walk(&c.loop_step, bound, out);
            walk(&c.result, bound, out);
            bound.truncate(depth);
        }
        Expr::List(list) => {
            for e in &list.elements {
                walk(e, bound, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                walk_entry(&entry.expr, bound, out);
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                walk_entry(&entry.expr, bound, out);
            }
        }
        Expr::Select(select) => walk(&select.operand, bound, out),
    }
}

fn walk_entry(entry: &EntryExpr, bound: &mut Vec<String>, out: &mut BTreeSet<String>) {
    match entry {
        EntryExpr::StructField(f) => walk(&f.value, bound, out),
        EntryExpr::MapEntry(m) => {
            walk(&m.key, bound, out);
            walk(&m.value, bound, out);
        }
    }
}
