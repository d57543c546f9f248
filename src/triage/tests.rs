//! Tests of the shipped rules file (every rule reachable through its example), of `check` on
//! broken files, and of the FDA 2016 worked examples A1-P1..A1-P7 of docs/regulatory-rules.md.

use chrono::NaiveDate;
use serde_json::json;

use super::rules::{example_input, merge, toml_to_json, Outcome};
use super::*;

fn shipped() -> RuleSet {
    load_rules(DEFAULT_RULES).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// The shipped `[example_base]` with `over` merged in: a fully known, benign input.
fn input(set: &RuleSet, over: serde_json::Value) -> TriageInput {
    let mut base = toml_to_json(&toml::Value::Table(set.example_base.clone().unwrap()));
    merge(&mut base, over);
    serde_json::from_value(base).unwrap()
}

fn fired<'a>(dec: &'a Decision, table: &str) -> Vec<&'a str> {
    dec.trace
        .iter()
        .filter(|t| t.table == table)
        .map(|t| t.rule.as_str())
        .collect()
}

fn notification<'a>(dec: &'a Decision, rule: &str) -> Option<&'a Notification> {
    dec.notifications.iter().find(|n| n.rule == rule)
}

#[test]
fn shipped_rules_pass_check_without_warnings() {
    let summary = check(DEFAULT_RULES).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let names: Vec<&str> = summary.tables.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "exploit",
            "exposure",
            "harm",
            "exploitability",
            "priority",
            "risk",
            "change_us",
            "change_eu",
            "fsca",
            "notifications"
        ]
    );
    assert_eq!(summary.sha256.len(), 64);
    assert!(!summary.version.is_empty());
}

#[test]
fn every_shipped_rule_fires_on_its_example() {
    let set = shipped();
    let mut count = 0;
    for table in &set.tables {
        assert!(!table.rules.is_empty());
        for rule in &table.rules {
            let example = rule.example.as_ref().unwrap_or_else(|| {
                panic!("rule {} has no example: reachability not shown", rule.id)
            });
            let input =
                example_input(&set, example).unwrap_or_else(|e| panic!("rule {}: {e}", rule.id));
            let dec = evaluate(&set, &input).unwrap();
            let ids = fired(&dec, table.kind.name());
            if table.kind.all_match() {
                assert!(
                    ids.contains(&rule.id.as_str()),
                    "rule {} did not fire; fired {ids:?}",
                    rule.id
                );
            } else {
                assert_eq!(ids, [rule.id.as_str()], "table {}", table.kind.name());
            }
            count += 1;
        }
        // every table ends in a catch-all
        assert_eq!(
            table.rules.last().map(|r| r.when.trim()),
            Some("true"),
            "table {}",
            table.kind.name()
        );
    }
    assert!(count > 80, "only {count} rules");
}

#[test]
fn shipped_rule_ids_are_unique_and_sourced() {
    let set = shipped();
    let mut ids = std::collections::HashSet::new();
    for table in &set.tables {
        for rule in &table.rules {
            assert!(ids.insert(rule.id.clone()), "duplicate {}", rule.id);
            assert!(!rule.source.is_empty() && !rule.rationale.is_empty());
        }
    }
}

#[test]
fn check_names_every_problem_of_a_broken_file() {
    let broken = r#"
version = "broken-1"
[params]
epss_hi = 0.1

[[tables]]
name = "exploit"
mode = "first_match"
[[tables.rules]]
id = "e-dup"
when = "kev &&"
outcome = "E3"
rationale = "r"
basis = "INDUSTRY"
source = "s"
[[tables.rules]]
id = "e-dup"
when = "epss >= epss_hi"
outcome = "E2"
rationale = "r"
basis = "INDUSTRY"
source = "s"
[[tables.rules]]
id = "e-unknown"
when = "kve || risk == 'uncontrolled'"
outcome = "E1"
rationale = "r"
basis = "LAWISH"
source = "s"

[[tables]]
name = "exposure"
mode = "first_match"
[[tables.rules]]
id = "x-only"
when = "soup_exposure == 3"
outcome = "X9"
rationale = "r"
basis = "PROPOSAL"
source = "s"
"#;
    let errors = check(broken).unwrap_err();
    let has = |kind: RulesErrorKind, rule: Option<&str>, needle: &str| {
        errors
            .iter()
            .any(|e| e.kind == kind && e.rule.as_deref() == rule && e.to_string().contains(needle))
    };
    let all = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        has(
            RulesErrorKind::Expression,
            Some("e-dup"),
            "does not compile"
        ),
        "{all}"
    );
    assert!(
        has(RulesErrorKind::DuplicateId, Some("e-dup"), "already used"),
        "{all}"
    );
    assert!(
        has(RulesErrorKind::UnknownVariable, Some("e-unknown"), "`kve`"),
        "{all}"
    );
    assert!(
        has(
            RulesErrorKind::UnknownVariable,
            Some("e-unknown"),
            "later table"
        ),
        "{all}"
    );
    assert!(
        has(RulesErrorKind::InvalidValue, Some("e-unknown"), "LAWISH"),
        "{all}"
    );
    assert!(
        has(RulesErrorKind::InvalidValue, Some("x-only"), "X9"),
        "{all}"
    );
    // both tables lack a catch-all
    assert!(
        has(
            RulesErrorKind::NoCatchAll,
            Some("e-unknown"),
            "when = \"true\""
        ),
        "{all}"
    );
    assert!(
        has(
            RulesErrorKind::NoCatchAll,
            Some("x-only"),
            "when = \"true\""
        ),
        "{all}"
    );
    // missing tables are named
    assert!(
        errors
            .iter()
            .any(|e| e.kind == RulesErrorKind::Structure
                && e.table.as_deref() == Some("notifications")),
        "{all}"
    );
    // the first error is what load_rules reports
    assert_eq!(load_rules(broken).unwrap_err(), errors[0]);
}

#[test]
fn check_reports_toml_syntax_errors() {
    let errors = check("version = \"1\"\n[[tables]\nname = 'x'").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, RulesErrorKind::Syntax);
    assert!(load_rules("version = ").is_err());
}

#[test]
fn check_reports_missing_version_and_bad_notification_fields() {
    // Take the shipped file, drop the version and break one notification rule.
    let text = DEFAULT_RULES
        .replacen("version = \"", "versio = \"", 1)
        .replacen("day_kind = \"working\"", "day_kind = \"business\"", 1);
    let errors = check(&text).unwrap_err();
    let all = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        errors.iter().any(|e| e.field.as_deref() == Some("version")),
        "{all}"
    );
    assert!(
        errors.iter().any(|e| e.field.as_deref() == Some("versio")),
        "{all}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.rule.as_deref() == Some("n-a1.2") && e.field.as_deref() == Some("day_kind")),
        "{all}"
    );
}

#[test]
fn check_runs_examples_and_names_a_rule_its_example_misses() {
    // The example of e2-exploit now describes a PoC: the rule no longer fires on it.
    let text = DEFAULT_RULES.replacen(
        "example = { signals = { exploit_maturity = \"functional\" } }",
        "example = { signals = { exploit_maturity = \"poc\" } }",
        1,
    );
    assert_ne!(text, DEFAULT_RULES);
    let errors = check(&text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind, RulesErrorKind::Example);
    assert_eq!(errors[0].rule.as_deref(), Some("e2-exploit"));
    assert!(errors[0].message.contains("fired: e1"), "{}", errors[0]);
    // load_rules does not run examples
    assert!(load_rules(&text).is_ok());
}

#[test]
fn an_unreachable_rule_is_caught() {
    // A rule shadowed by an earlier, broader one cannot fire on any example.
    let text = DEFAULT_RULES.replacen(
        "id = \"e3-wild\"\nwhen = \"exploited_in_wild\"",
        "id = \"e3-wild\"\nwhen = \"exploited_in_wild && !kev && kev\"",
        1,
    );
    assert_ne!(text, DEFAULT_RULES);
    let errors = check(&text).unwrap_err();
    assert!(errors
        .iter()
        .any(|e| e.kind == RulesErrorKind::Example && e.rule.as_deref() == Some("e3-wild")));
}

#[test]
fn comprehension_variables_are_not_unknown() {
    let text = DEFAULT_RULES.replacen(
        "when = \"exploit_maturity in ['functional', 'weaponized']\"",
        "when = \"['functional', 'weaponized'].exists(m, m == exploit_maturity)\"",
        1,
    );
    assert_ne!(text, DEFAULT_RULES);
    check(&text).unwrap();
}

#[test]
fn non_boolean_condition_is_an_evaluation_error() {
    let text = DEFAULT_RULES.replacen(
        "id = \"e3-kev\"\nwhen = \"kev\"",
        "id = \"e3-kev\"\nwhen = \"epss + 1.0\"",
        1,
    );
    assert_ne!(text, DEFAULT_RULES);
    let set = load_rules(&text).unwrap();
    let err = evaluate(&set, &TriageInput::new(d(2026, 1, 5))).unwrap_err();
    assert_eq!(err.kind, RulesErrorKind::Evaluation);
    assert_eq!(err.rule.as_deref(), Some("e3-kev"));
}

#[test]
fn thresholds_come_from_the_rules_file() {
    let set = shipped();
    let i = input(&set, json!({"signals": {"epss": 0.05}}));
    assert_eq!(evaluate(&set, &i).unwrap().levels.exploit, "E1");
    let lowered = DEFAULT_RULES.replacen("epss_hi = 0.10", "epss_hi = 0.04", 1);
    let set2 = load_rules(&lowered).unwrap();
    let dec = evaluate(&set2, &i).unwrap();
    assert_eq!(dec.levels.exploit, "E2");
    assert_ne!(dec.rules_sha256, set.sha256);
}

#[test]
fn missing_everything_is_worst_case() {
    let set = shipped();
    let dec = evaluate(&set, &TriageInput::new(d(2026, 3, 2))).unwrap();
    // no SOUP record: class C, H4, X3; unknown EPSS: E2 -> exploitability high
    assert_eq!(dec.levels.harm, "H4");
    assert_eq!(dec.levels.exposure, "X3");
    assert_eq!(dec.levels.exploit, "E2");
    assert_eq!(dec.priority, Priority::P1);
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert_eq!(dec.change_us, ChangeUs::PremarketReview);
    assert_eq!(dec.change_eu, ChangeEu::PotentiallySignificant);
    assert!(dec.fsca, "markets unknown -> EU included");
    assert!(
        notification(&dec, "d-us6").is_some(),
        "no ISAO evidence -> 806"
    );
    assert!(
        notification(&dec, "n-a1.2").is_some(),
        "match unknown -> confirmation task"
    );
    assert!(dec
        .assumptions
        .iter()
        .any(|a| a.starts_with("no SOUP record")));
}

#[test]
fn decision_json_has_the_promised_shape() {
    let set = shipped();
    let text = r#"{
        "awareness_date": "2026-03-06",
        "finding": {"match": "confirmed", "reach": "reachable"},
        "signals": {"kev": true, "epss": 0.5, "epss_percentile": 0.99},
        "soup": {"safety_class": "C", "harm": "H4", "exposure": "X2", "auth_required": true,
                 "clinical_function": "therapy", "controls": "none"},
        "device": {"markets": ["us"], "us_pathway": "510k", "isao_active": false}
    }"#;
    let value = eval_json(&set, text).unwrap();
    assert_eq!(value["priority"], "P0");
    assert_eq!(value["risk"], "uncontrolled");
    assert_eq!(value["fsca"], false);
    assert!(value["change_us"].is_string() && value["change_eu"].is_string());
    let notes = value["notifications"].as_array().unwrap();
    let n806 = notes.iter().find(|n| n["rule"] == "d-us6").unwrap();
    // Friday 6 March 2026 + 10 working days = Friday 20 March
    assert_eq!(n806["deadline"], "2026-03-20");
    assert_eq!(n806["basis"], "LAW");
    assert_eq!(n806["recipient"], "FDA: correction report under 21 CFR 806");
    let n30 = notes.iter().find(|n| n["rule"] == "d-us3").unwrap();
    assert_eq!(n30["deadline"], "2026-04-05");
    // sorted by deadline
    let deadlines: Vec<&str> = notes
        .iter()
        .map(|n| n["deadline"].as_str().unwrap())
        .collect();
    let mut sorted = deadlines.clone();
    sorted.sort_unstable();
    assert_eq!(deadlines, sorted);
    let trace = value["trace"].as_array().unwrap();
    assert!(trace
        .iter()
        .any(|t| t["table"] == "priority" && t["rule"] == "a2.1" && t["basis"] == "PROPOSAL"));
    assert_eq!(value["rules_sha256"].as_str().unwrap().len(), 64);
    assert!(eval_json(&set, "{\"awareness_date\": \"2026-13-01\"}").is_err());
    assert!(eval_json(&set, "not json").is_err());
}

#[test]
fn eu_deadlines_roll_past_the_weekend() {
    let set = shipped();
    // Thursday 5 March 2026, serious public health threat: day 2 is Saturday -> Monday 9 March.
    let i = input(
        &set,
        json!({"awareness_date": "2026-03-05", "device": {"markets": ["eu"]}, "events": {"public_health_threat": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(
        notification(&dec, "d-eu1-spht").unwrap().deadline,
        d(2026, 3, 9)
    );
    // a death on 22 Dec 2025: day 10 is 1 Jan 2026, a Thursday (holidays are not modelled)
    let i = input(
        &set,
        json!({"awareness_date": "2025-12-22", "device": {"markets": ["eu", "us"]}, "events": {"reported": "death"}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(
        notification(&dec, "d-eu1-death").unwrap().deadline,
        d(2026, 1, 1)
    );
    // the 803 five-day report counts working days: Mon 22 Dec + 5 = Mon 29 Dec
    assert_eq!(
        notification(&dec, "d-us8-5day").unwrap().deadline,
        d(2025, 12, 29)
    );
    assert_eq!(
        notification(&dec, "d-us8").unwrap().deadline,
        d(2026, 1, 21)
    );
}

#[test]
fn outcomes_are_typed() {
    let set = shipped();
    for table in &set.tables {
        for rule in &table.rules {
            let ok = matches!(
                (table.kind, &rule.outcome),
                (
                    TableKind::Exploit | TableKind::Exposure | TableKind::Harm,
                    Outcome::Level(_)
                ) | (TableKind::Exploitability, Outcome::Exploitability(_))
                    | (TableKind::Priority, Outcome::Priority(_))
                    | (TableKind::Risk, Outcome::Risk(_))
                    | (TableKind::ChangeUs, Outcome::ChangeUs(_))
                    | (TableKind::ChangeEu, Outcome::ChangeEu(_))
                    | (TableKind::Fsca, Outcome::Fsca(_))
                    | (TableKind::Notifications, Outcome::Notify(_))
            );
            assert!(ok, "{}", rule.id);
        }
    }
}

// ---- FDA 2016 postmarket guidance, worked rules A1-P1 .. A1-P7 (regulatory-rules Part A1.3) ----

/// A1-P1: cybersecurity routine updates and patches typically need no premarket review.
#[test]
fn a1_p1_routine_update_needs_no_premarket_review() {
    let set = shipped();
    let i = input(
        &set,
        json!({"soup": {"safety_class": "B", "harm": "H3", "exposure": "X1", "controls": "compensating_documented"}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.risk, RiskClass::Controlled);
    assert_eq!(dec.change_us, ChangeUs::DocumentOnly);
    assert_eq!(fired(&dec, "change_us"), ["c-us1"]);
    assert!(notification(&dec, "d-us9").is_none());
    assert!(notification(&dec, "d-us6").is_none());
}

/// A1-P2: CVD acknowledgement; and a security change that significantly affects other
/// functionality (e.g. a different operating system) is assessed, not treated as routine.
#[test]
fn a1_p2_cvd_acknowledgement_and_os_change_assessed() {
    let set = shipped();
    let i = input(
        &set,
        json!({"finding": {"reported_externally": true}, "fix": {"kind": "os_port", "device_code_change": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    let ack = notification(&dec, "d-cvd1").unwrap();
    assert_eq!(ack.deadline, d(2026, 3, 9)); // Mon 2 March + 5 working days
    assert_eq!(dec.change_us, ChangeUs::PremarketReview);
    assert_eq!(dec.change_eu, ChangeEu::PotentiallySignificant);
}

/// A1-P3: controlled risk: not reportable under 806; PMA devices report in the annual report;
/// PHI-only fixes are routine.
#[test]
fn a1_p3_controlled_risk_no_806_pma_annual_report() {
    let set = shipped();
    let i = input(
        &set,
        json!({"device": {"us_pathway": "pma"}, "soup": {"harm": "H1", "exposure": "X3", "auth_required": false}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.risk, RiskClass::Controlled);
    assert!(dec.flags.contains(&"PRIVACY_REVIEW".to_string()));
    assert!(notification(&dec, "d-us6").is_none() && notification(&dec, "d-us7").is_none());
    let annual = notification(&dec, "d-us2").unwrap();
    assert_eq!(
        annual.source,
        "21 CFR 814.84; FDA 2016 §VII.A, §VIII (A1-P3, A1.4)"
    );
    assert_eq!(annual.deadline, d(2027, 3, 2));
}

/// A1-P4: uncontrolled risk: remediate, inform customers, report under 806.
#[test]
fn a1_p4_uncontrolled_risk_reports_806_and_informs_customers() {
    let set = shipped();
    let i = input(
        &set,
        json!({"soup": {"safety_class": "C", "harm": "H4", "exposure": "X2"}, "signals": {"epss": 0.3}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert_eq!(fired(&dec, "risk"), ["b3"]);
    assert_eq!(
        notification(&dec, "d-us6").unwrap().deadline,
        d(2026, 3, 16)
    );
    assert_eq!(notification(&dec, "d-us3").unwrap().deadline, d(2026, 4, 1));
    assert_eq!(notification(&dec, "d-us4").unwrap().deadline, d(2026, 5, 1));
}

/// A1-P5: enforcement discretion: no serious events, day-30 communication, day-60 fix and
/// active ISAO participation -> no 806 (806.20-style record instead); missing any one -> 806.
#[test]
fn a1_p5_enforcement_discretion_needs_all_four_conditions() {
    let set = shipped();
    let all_four = json!({
        "soup": {"safety_class": "C", "harm": "H4", "exposure": "X2"}, "signals": {"epss": 0.3},
        "device": {"isao_active": true}, "remediation": {"meets_fda_30_60": true}
    });
    let dec = evaluate(&set, &input(&set, all_four.clone())).unwrap();
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert!(notification(&dec, "d-us6").is_none());
    assert_eq!(notification(&dec, "d-us7").unwrap().deadline, d(2026, 3, 2));
    assert_eq!(notification(&dec, "d-us5").unwrap().deadline, d(2026, 4, 1));
    assert!(notification(&dec, "d-us3").is_some() && notification(&dec, "d-us4").is_some());

    for (label, over) in [
        ("no ISAO", json!({"device": {"isao_active": false}})),
        (
            "misses day 30/60",
            json!({"remediation": {"meets_fda_30_60": false}}),
        ),
        (
            "serious injury",
            json!({"events": {"reported": "serious_injury"}}),
        ),
    ] {
        let mut v = all_four.clone();
        merge(&mut v, over);
        let dec = evaluate(&set, &input(&set, v)).unwrap();
        assert!(notification(&dec, "d-us6").is_some(), "{label}");
        assert!(notification(&dec, "d-us7").is_none(), "{label}");
    }
}

/// A1-P6: uncontrolled risk on a PMA device: remediation in the annual report and evaluation
/// of a premarket submission.
#[test]
fn a1_p6_uncontrolled_pma_annual_report_and_submission_check() {
    let set = shipped();
    let i = input(
        &set,
        json!({"device": {"us_pathway": "pma"}, "soup": {"safety_class": "C", "harm": "H4", "exposure": "X3", "auth_required": false},
               "fix": {"affects_safety_effectiveness": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert!(notification(&dec, "d-us2-u").is_some());
    assert_eq!(dec.change_us, ChangeUs::NewSubmissionLikely);
    assert_eq!(fired(&dec, "change_us"), ["c-us8"]);
    assert!(notification(&dec, "d-us9").is_some());
}

/// A1-P7 (i): an unused open port where the design prevents remote firmware download:
/// controlled, closing the port is a routine update, no 806.
#[test]
fn a1_p7_i_unused_port_is_controlled_routine_update() {
    let set = shipped();
    let i = input(
        &set,
        json!({"soup": {"safety_class": "B", "harm": "H3", "exposure": "X2", "controls": "design_control_effective"},
               "fix": {"kind": "config"}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.levels.exploitability, Exploitability::Low);
    assert_eq!(dec.risk, RiskClass::Controlled);
    assert_eq!(dec.change_us, ChangeUs::DocumentOnly);
    assert!(notification(&dec, "d-us6").is_none());
    assert!(notification(&dec, "d-us3").is_none());
}

/// A1-P7 (ii): hard-coded password on an implantable device, moderate exploitability:
/// uncontrolled; fix within 60 days; a manufacturer not in an ISAO files 806.10.
#[test]
fn a1_p7_ii_hardcoded_password_implant_files_806() {
    let set = shipped();
    let i = input(
        &set,
        json!({"awareness_date": "2026-06-01",
               "signals": {"exploit_maturity": "functional"},
               "soup": {"safety_class": "C", "harm": "H4", "exposure": "X1", "auth_required": false,
                        "clinical_function": "therapy", "controls": "none"},
               "device": {"implantable": true, "isao_active": false},
               "remediation": {"meets_fda_30_60": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.levels.exploitability, Exploitability::Medium);
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert_eq!(fired(&dec, "risk"), ["b3"]);
    // Mon 1 June 2026 + 10 working days = Mon 15 June
    assert_eq!(
        notification(&dec, "d-us6").unwrap().deadline,
        d(2026, 6, 15)
    );
    assert_eq!(
        notification(&dec, "d-us4").unwrap().deadline,
        d(2026, 7, 31)
    );
    assert!(notification(&dec, "d-us5").is_none());
}

/// A1-P7 (iii): new failure mode affecting essential performance on a class II device: within
/// 30 days users are told to disconnect (risk becomes controlled), patch within 60 days.
#[test]
fn a1_p7_iii_disconnect_advice_then_patch() {
    let set = shipped();
    let initial = json!({
        "signals": {"epss": 0.3},
        "soup": {"safety_class": "B", "harm": "H3", "exposure": "X2", "controls": "none"},
        "device": {"us_pathway": "510k", "isao_active": true}, "remediation": {"meets_fda_30_60": true}
    });
    let dec = evaluate(&set, &input(&set, initial.clone())).unwrap();
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert_eq!(fired(&dec, "risk"), ["b5"]);
    assert_eq!(notification(&dec, "d-us3").unwrap().deadline, d(2026, 4, 1));
    assert_eq!(notification(&dec, "d-us4").unwrap().deadline, d(2026, 5, 1));
    assert!(
        notification(&dec, "d-us6").is_none(),
        "ISAO member meeting 30/60: no 806"
    );
    // Re-evaluation after the disconnect advice is deployed (b8): exposure now local, the
    // compensating control documented -> controlled. The ticket keeps the original clocks.
    let mut after = initial;
    merge(
        &mut after,
        json!({"soup": {"exposure": "X1", "controls": "compensating_documented"}}),
    );
    let dec = evaluate(&set, &input(&set, after)).unwrap();
    assert_eq!(dec.risk, RiskClass::Controlled);
    assert_eq!(fired(&dec, "risk"), ["b6-ctrl"]);
}

/// A1-P7 (iv): an exploited unknown vulnerability contributes to a death: MDR under 803 plus
/// an 806.10 report and an emergency patch.
#[test]
fn a1_p7_iv_death_gives_803_and_806() {
    let set = shipped();
    let i = input(
        &set,
        json!({"signals": {"exploited_in_wild": true},
               "soup": {"safety_class": "C", "harm": "H4", "exposure": "X2"},
               "events": {"reported": "death", "device_exploitation_observed": true},
               "device": {"isao_active": true}, "remediation": {"meets_fda_30_60": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    assert_eq!(dec.priority, Priority::P0);
    assert_eq!(fired(&dec, "priority"), ["a2.0"]);
    assert_eq!(dec.risk, RiskClass::Uncontrolled);
    assert_eq!(fired(&dec, "risk"), ["b0"]);
    assert!(notification(&dec, "d-us8").is_some());
    assert!(notification(&dec, "d-us8-5day").is_some());
    assert!(
        notification(&dec, "d-us6").is_some(),
        "death removes enforcement discretion"
    );
    assert!(notification(&dec, "d-us7").is_none());
    assert_eq!(notification(&dec, "d-us4").unwrap().days, 60);
    assert_eq!(
        notification(&dec, "sla-p0").unwrap().deadline,
        d(2026, 3, 3)
    );
}

#[test]
fn every_input_variable_is_documented() {
    let doc = include_str!("../../docs/rules.md");
    for name in input::input_variable_names() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/rules.md does not list `{name}`"
        );
    }
    for kind in TableKind::ALL {
        assert!(
            doc.contains(&format!("`{}`", kind.name())),
            "{}",
            kind.name()
        );
    }
}

#[test]
fn trace_explains_notification_deadlines_in_words() {
    let set = shipped();
    let i = input(
        &set,
        json!({"awareness_date": "2026-03-05", "device": {"markets": ["eu"]}, "events": {"public_health_threat": true}}),
    );
    let dec = evaluate(&set, &i).unwrap();
    let entry = dec.trace.iter().find(|t| t.rule == "d-eu1-spht").unwrap();
    assert!(entry.outcome.contains("by 2026-03-09"), "{}", entry.outcome);
    assert!(
        entry.outcome.contains("weekend deadline moving to Monday"),
        "{}",
        entry.outcome
    );
    assert_eq!(entry.basis, "LAW");
}

#[test]
fn rule_set_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleSet>();
}

/// Sweeps the main risk inputs and checks invariants that must hold whatever the row order:
/// evaluation always decides, and the clocks agree with the risk and FSCA outcomes.
#[test]
fn sweep_keeps_clocks_consistent_with_outcomes() {
    let set = shipped();
    let mut seen_uncontrolled = 0;
    let mut seen_controlled = 0;
    for harm in ["H0", "H1", "H2", "H3", "H4"] {
        for exposure in ["X0", "X1", "X2", "X3"] {
            for class in ["A", "B", "C"] {
                for controls in [
                    "none",
                    "compensating_documented",
                    "design_control_effective",
                ] {
                    for signal in [json!({}), json!({"epss": 0.5}), json!({"kev": true})] {
                        let over = json!({
                            "device": {"markets": ["us", "eu"], "eu_class": "IIb"},
                            "signals": signal,
                            "soup": {"harm": harm, "exposure": exposure, "safety_class": class,
                                     "controls": controls, "auth_required": false}
                        });
                        let dec = evaluate(&set, &input(&set, over.clone())).unwrap();
                        let has = |rule: &str| notification(&dec, rule).is_some();
                        let ctx = format!("{over} -> {:?}", dec.trace);
                        assert!(has("d-cvd2"), "{ctx}");
                        match dec.risk {
                            RiskClass::Uncontrolled => {
                                seen_uncontrolled += 1;
                                assert!(has("d-us3") && has("d-us4") && has("d-us6"), "{ctx}");
                                assert!(dec.fsca && has("d-eu3") && has("d-eu4"), "{ctx}");
                                assert!(dec.levels.harm.as_str() >= "H3", "{ctx}");
                            }
                            RiskClass::Controlled => {
                                seen_controlled += 1;
                                assert!(!has("d-us3") && !has("d-us6") && !dec.fsca, "{ctx}");
                            }
                        }
                        if class == "C" {
                            assert_eq!(dec.levels.harm, "H4", "{ctx}");
                        }
                        if matches!(dec.priority, Priority::P0 | Priority::P1) {
                            assert!(dec.levels.harm.as_str() >= "H3", "{ctx}");
                        }
                        // H4, internet-exposed without authentication, no designed-in control
                        if dec.levels.harm == "H4"
                            && exposure == "X3"
                            && controls != "design_control_effective"
                        {
                            assert_eq!(dec.risk, RiskClass::Uncontrolled, "{ctx}");
                        }
                    }
                }
            }
        }
    }
    assert!(seen_uncontrolled > 50 && seen_controlled > 50);
}
