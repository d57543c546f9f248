//! The release report for auditors and the design history file: every component of the release,
//! every finding with its VEX status and the ticket's decision (priority, risk, change
//! classifications, FSCA), and who signed the decision, when and with what meaning. The same
//! rows are rendered as HTML (self-contained, no scripts), Markdown and CSV (RFC 4180).
//!
//! A finding is joined to its component by index and name in the current SBOM revision; findings
//! recorded against a superseded revision are listed after the components with their own names.

use super::status::{statements, Statement};
use super::{ts, ReleaseExportData};
use crate::matching::findings::Finding;
use crate::store::HitStatus;
use crate::tickets::Ticket;
use std::collections::BTreeMap;

/// One finding with the decision about it.
struct FindingRow {
    vulnerability: String,
    aliases: String,
    severity: String,
    finding_status: String,
    vex_status: String,
    justification: String,
    ticket: String,
    state: String,
    priority: String,
    risk: String,
    change_us: String,
    change_eu: String,
    fsca: String,
    signed_by: String,
    signed_at: String,
    meaning: String,
}

/// A component row: the component and its findings (none for a clean component).
struct ComponentRow {
    index: Option<usize>,
    name: String,
    version: String,
    purl: String,
    bom_ref: String,
    supplier: String,
    licenses: String,
    findings: Vec<FindingRow>,
}

fn signer(t: &Ticket) -> (String, String, String) {
    match (t.current_signoff(), t.signoffs.last()) {
        (Some(s), _) => (s.by.clone(), ts(s.at), s.meaning.clone()),
        (None, Some(s)) => (
            format!("{} (no longer current: the decision changed since)", s.by),
            ts(s.at),
            s.meaning.clone(),
        ),
        (None, None) => (
            "not signed off (provisional)".into(),
            String::new(),
            String::new(),
        ),
    }
}

fn state_name(t: &Ticket) -> String {
    serde_json::to_value(t.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn finding_row(f: &Finding, st: Option<&Statement<'_>>) -> FindingRow {
    let max_score = f
        .vulnerability
        .severity
        .iter()
        .filter_map(|s| s.base_score.map(|b| (b, s.kind.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let retraction = f
        .records
        .iter()
        .filter(|r| r.status == HitStatus::Retracted)
        .filter_map(|r| r.retraction_reason.as_deref())
        .next();
    let finding_status = match (f.status, retraction) {
        (HitStatus::Active, _) => "active".to_string(),
        (HitStatus::Retracted, Some(r)) => format!("retracted: {r}"),
        (HitStatus::Retracted, None) => "retracted".to_string(),
    };
    let ticket = st.and_then(|s| s.ticket);
    let (signed_by, signed_at, meaning) = ticket.map(signer).unwrap_or_default();
    let risk = ticket.map(|t| match t.current_signoff() {
        Some(s) => s.risk.as_str().to_string(),
        None => format!("{} (provisional)", t.decision.risk.as_str()),
    });
    FindingRow {
        vulnerability: f.vulnerability.id.clone(),
        aliases: f.vulnerability.aliases.join(" "),
        severity: max_score
            .map(|(b, k)| format!("{b:.1} ({k})"))
            .unwrap_or_default(),
        finding_status,
        vex_status: st.map_or("no statement", |s| s.status.as_str()).to_string(),
        justification: st
            .and_then(|s| s.justification)
            .map(|j| j.as_str().to_string())
            .unwrap_or_default(),
        ticket: ticket.map(|t| t.id.clone()).unwrap_or_default(),
        state: ticket.map(state_name).unwrap_or_default(),
        priority: ticket
            .map(|t| t.decision.priority.as_str().to_string())
            .unwrap_or_default(),
        risk: risk.unwrap_or_default(),
        change_us: ticket
            .map(|t| {
                t.current_signoff()
                    .map_or(t.decision.change_us, |s| s.change_us)
                    .as_str()
                    .to_string()
            })
            .unwrap_or_default(),
        change_eu: ticket
            .map(|t| {
                t.current_signoff()
                    .map_or(t.decision.change_eu, |s| s.change_eu)
                    .as_str()
                    .to_string()
            })
            .unwrap_or_default(),
        fsca: ticket
            .map(|t| {
                if t.current_signoff().map_or(t.decision.fsca, |s| s.fsca) {
                    "yes".into()
                } else {
                    "no".into()
                }
            })
            .unwrap_or_default(),
        signed_by,
        signed_at,
        meaning,
    }
}

fn rows(data: &ReleaseExportData) -> (Vec<ComponentRow>, Vec<Statement<'_>>) {
    let st = statements(data);
    let by_group: BTreeMap<&str, &Statement<'_>> =
        st.iter().map(|s| (s.vulnerability.as_str(), s)).collect();
    let mut joined = vec![false; data.findings.len()];
    let mut out: Vec<ComponentRow> = data
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut findings = Vec::new();
            for (k, f) in data.findings.iter().enumerate() {
                let current = f
                    .records
                    .iter()
                    .any(|r| r.release_sha256 == data.release.sha256);
                if f.component.index == i && f.component.name == c.name && current {
                    joined[k] = true;
                    findings.push(finding_row(
                        f,
                        by_group.get(f.vulnerability.id.as_str()).copied(),
                    ));
                }
            }
            ComponentRow {
                index: Some(i),
                name: c.name.clone(),
                version: c.version.clone().unwrap_or_default(),
                purl: c.purl.clone().unwrap_or_default(),
                bom_ref: c.bom_ref.clone().unwrap_or_default(),
                supplier: c.supplier.clone().unwrap_or_default(),
                licenses: c.licenses.join(" "),
                findings,
            }
        })
        .collect();
    for (k, f) in data.findings.iter().enumerate() {
        if joined.get(k).copied().unwrap_or(false) {
            continue;
        }
        out.push(ComponentRow {
            index: None,
            name: format!("{} (superseded SBOM revision)", f.component.name),
            version: f.component.version.clone().unwrap_or_default(),
            purl: f.component.purl.clone().unwrap_or_default(),
            bom_ref: f.component.bom_ref.clone().unwrap_or_default(),
            supplier: String::new(),
            licenses: String::new(),
            findings: vec![finding_row(
                f,
                by_group.get(f.vulnerability.id.as_str()).copied(),
            )],
        });
    }
    (out, st)
}

fn header(data: &ReleaseExportData) -> Vec<(&'static str, String)> {
    let r = &data.release;
    vec![
        ("Product", data.product_title()),
        ("Release", r.release.to_string()),
        ("SBOM revision", r.revision.to_string()),
        ("SBOM SHA-256", r.sha256.clone()),
        ("SBOM format", format!("{:?} {}", r.format, r.spec_version)),
        (
            "Uploaded",
            format!("{} by {}", ts(r.uploaded_at), r.uploaded_by),
        ),
        ("Components", data.components.len().to_string()),
        ("Findings", data.findings.len().to_string()),
        ("Publisher", data.publisher.name.clone()),
        ("Report version", data.version().to_string()),
        ("Generated", ts(data.generated_at)),
    ]
}

const FINDING_COLUMNS: [&str; 16] = [
    "vulnerability",
    "aliases",
    "severity",
    "finding_status",
    "vex_status",
    "justification",
    "ticket",
    "ticket_state",
    "priority",
    "risk",
    "change_us",
    "change_eu",
    "fsca",
    "signed_by",
    "signed_at",
    "signoff_meaning",
];

impl FindingRow {
    fn cells(&self) -> [&str; 16] {
        [
            &self.vulnerability,
            &self.aliases,
            &self.severity,
            &self.finding_status,
            &self.vex_status,
            &self.justification,
            &self.ticket,
            &self.state,
            &self.priority,
            &self.risk,
            &self.change_us,
            &self.change_eu,
            &self.fsca,
            &self.signed_by,
            &self.signed_at,
            &self.meaning,
        ]
    }
}

/// One CSV cell: quoted when needed (RFC 4180); a leading `= + - @` or tab gets a `'` so a
/// spreadsheet does not run advisory text as a formula.
fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The report as CSV: one line per (component, finding), one line for a component without any.
pub fn report_csv(data: &ReleaseExportData) -> String {
    let (rows, _) = rows(data);
    let mut out = String::new();
    let head: Vec<&str> = [
        "component_index",
        "component",
        "version",
        "purl",
        "bom_ref",
        "supplier",
        "licenses",
    ]
    .into_iter()
    .chain(FINDING_COLUMNS)
    .collect();
    out.push_str(&head.join(","));
    out.push_str("\r\n");
    let empty = FindingRow {
        vulnerability: String::new(),
        aliases: String::new(),
        severity: String::new(),
        finding_status: String::new(),
        vex_status: String::new(),
        justification: String::new(),
        ticket: String::new(),
        state: String::new(),
        priority: String::new(),
        risk: String::new(),
        change_us: String::new(),
        change_eu: String::new(),
        fsca: String::new(),
        signed_by: String::new(),
        signed_at: String::new(),
        meaning: String::new(),
    };
    for c in &rows {
        let index = c.index.map(|i| i.to_string()).unwrap_or_default();
        let comp = [
            index.as_str(),
            &c.name,
            &c.version,
            &c.purl,
            &c.bom_ref,
            &c.supplier,
            &c.licenses,
        ];
        let findings: Vec<&FindingRow> = if c.findings.is_empty() {
            vec![&empty]
        } else {
            c.findings.iter().collect()
        };
        for f in findings {
            let line: Vec<String> = comp
                .iter()
                .copied()
                .chain(f.cells())
                .map(csv_cell)
                .collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\n' | '\r' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

fn decisions(data: &ReleaseExportData) -> Vec<&Ticket> {
    let mut t: Vec<&Ticket> = data.tickets.iter().collect();
    t.sort_by(|a, b| a.id.cmp(&b.id));
    t
}

/// The report as Markdown.
pub fn report_markdown(data: &ReleaseExportData) -> String {
    let (rows, st) = rows(data);
    let mut o = String::new();
    o.push_str(&format!(
        "# Vulnerability report: {} {}\n\n",
        md(&data.product_title()),
        md(data.release.release.as_str())
    ));
    for (k, v) in header(data) {
        o.push_str(&format!("- **{k}**: {}\n", md(&v)));
    }
    o.push_str("\n## Statements\n\n| vulnerability | status | justification | components | basis |\n|---|---|---|---|---|\n");
    for s in &st {
        let comps: Vec<String> = s
            .components
            .iter()
            .map(|c| format!("{} {}", c.name, c.version.as_deref().unwrap_or("")))
            .collect();
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            md(&s.vulnerability),
            s.status.as_str(),
            s.justification.map_or("", |j| j.as_str()),
            md(&comps.join(", ")),
            md(&s.notes)
        ));
    }
    o.push_str("\n## Components and findings\n\n| # | component | version | purl | ");
    o.push_str(&FINDING_COLUMNS.join(" | "));
    o.push_str(" |\n|");
    o.push_str(&"---|".repeat(4 + FINDING_COLUMNS.len()));
    o.push('\n');
    for c in &rows {
        let lead = format!(
            "| {} | {} | {} | {} |",
            c.index.map(|i| i.to_string()).unwrap_or_default(),
            md(&c.name),
            md(&c.version),
            md(&c.purl)
        );
        if c.findings.is_empty() {
            o.push_str(&lead);
            o.push_str(&" |".repeat(FINDING_COLUMNS.len()));
            o.push('\n');
        }
        for f in &c.findings {
            o.push_str(&lead);
            for cell in f.cells() {
                o.push_str(&format!(" {} |", md(cell)));
            }
            o.push('\n');
        }
    }
    o.push_str("\n## Decisions and signoffs\n\n");
    for t in decisions(data) {
        o.push_str(&format!(
            "### {}\n\n- state: {}\n- priority: {}; risk: {}; change US: {}; change EU: {}; FSCA: {}\n- rules SHA-256: {}\n",
            md(&t.id),
            state_name(t),
            t.decision.priority.as_str(),
            t.decision.risk.as_str(),
            t.decision.change_us.as_str(),
            t.decision.change_eu.as_str(),
            t.decision.fsca,
            md(&t.decision.rules_sha256)
        ));
        if let Some(r) = &t.facts.not_affected_rationale {
            o.push_str(&format!("- not-affected rationale: {}\n", md(r)));
        }
        if t.signoffs.is_empty() {
            o.push_str("- signoffs: none (the decision is provisional)\n");
        }
        let current = t.current_signoff().map(|s| s.signed_sha256.as_str());
        for s in &t.signoffs {
            o.push_str(&format!(
                "- signed by **{}** on {}: {:?}, \"{}\"{}; risk {}, change US {}, change EU {}, FSCA {}; signed SHA-256 {}{}\n",
                md(&s.by),
                ts(s.at),
                s.action,
                md(&s.meaning),
                s.reason.as_deref().map(|r| format!(" ({})", md(r))).unwrap_or_default(),
                s.risk.as_str(),
                s.change_us.as_str(),
                s.change_eu.as_str(),
                s.fsca,
                s.signed_sha256,
                if Some(s.signed_sha256.as_str()) == current { " (current)" } else { "" }
            ));
        }
        o.push('\n');
    }
    o
}

fn h(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The report as one self-contained HTML page (inline style, no scripts, everything escaped).
pub fn report_html(data: &ReleaseExportData) -> String {
    let (rows, st) = rows(data);
    let title = format!(
        "Vulnerability report: {} {}",
        data.product_title(),
        data.release.release
    );
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str(&format!("<title>{}</title>", h(&title)));
    o.push_str("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #999;padding:0.2em 0.4em;vertical-align:top;text-align:left}th{background:#eee}.not_affected{background:#e6f4e6}.affected{background:#fbe3e3}.fixed{background:#e3ecfb}.under_investigation{background:#fff6d6}</style>");
    o.push_str(&format!("</head><body><h1>{}</h1><dl>", h(&title)));
    for (k, v) in header(data) {
        o.push_str(&format!("<dt>{}</dt><dd>{}</dd>", h(k), h(&v)));
    }
    o.push_str("</dl><h2>Statements</h2><table><tr><th>vulnerability</th><th>status</th><th>justification</th><th>components</th><th>basis</th></tr>");
    for s in &st {
        let comps: Vec<String> = s
            .components
            .iter()
            .map(|c| format!("{} {}", c.name, c.version.as_deref().unwrap_or("")))
            .collect();
        o.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.status.as_str(),
            h(&s.vulnerability),
            s.status.as_str(),
            s.justification.map_or("", |j| j.as_str()),
            h(&comps.join(", ")),
            h(&s.notes)
        ));
    }
    o.push_str("</table><h2>Components and findings</h2><table><tr><th>#</th><th>component</th><th>version</th><th>purl</th>");
    for c in FINDING_COLUMNS {
        o.push_str(&format!("<th>{c}</th>"));
    }
    o.push_str("</tr>");
    for c in &rows {
        let lead = format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            c.index.map(|i| i.to_string()).unwrap_or_default(),
            h(&c.name),
            h(&c.version),
            h(&c.purl)
        );
        if c.findings.is_empty() {
            o.push_str(&format!(
                "<tr>{lead}{}</tr>",
                "<td></td>".repeat(FINDING_COLUMNS.len())
            ));
        }
        for f in &c.findings {
            o.push_str(&format!("<tr class=\"{}\">{lead}", h(&f.vex_status)));
            for cell in f.cells() {
                o.push_str(&format!("<td>{}</td>", h(cell)));
            }
            o.push_str("</tr>");
        }
    }
    o.push_str("</table><h2>Decisions and signoffs</h2>");
    for t in decisions(data) {
        o.push_str(&format!(
            "<h3>{}</h3><p>state {}; priority {}; risk {}; change US {}; change EU {}; FSCA {}; rules SHA-256 {}</p><ul>",
            h(&t.id),
            state_name(t),
            t.decision.priority.as_str(),
            t.decision.risk.as_str(),
            t.decision.change_us.as_str(),
            t.decision.change_eu.as_str(),
            t.decision.fsca,
            h(&t.decision.rules_sha256)
        ));
        if let Some(r) = &t.facts.not_affected_rationale {
            o.push_str(&format!("<li>not-affected rationale: {}</li>", h(r)));
        }
        if t.signoffs.is_empty() {
            o.push_str("<li>no signoff: the decision is provisional</li>");
        }
        let current = t.current_signoff().map(|s| s.signed_sha256.as_str());
        for s in &t.signoffs {
            o.push_str(&format!(
                "<li>signed by <b>{}</b> on {}: {:?}, &ldquo;{}&rdquo;{}; risk {}, change US {}, change EU {}, FSCA {}; signed SHA-256 {}{}</li>",
                h(&s.by),
                ts(s.at),
                s.action,
                h(&s.meaning),
                s.reason.as_deref().map(|r| format!(" ({})", h(r))).unwrap_or_default(),
                s.risk.as_str(),
                s.change_us.as_str(),
                s.change_eu.as_str(),
                s.fsca,
                h(&s.signed_sha256),
                if Some(s.signed_sha256.as_str()) == current { " (current)" } else { "" }
            ));
        }
        o.push_str("</ul>");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formula_guarded() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn html_and_markdown_escape_untrusted_text() {
        assert_eq!(
            h("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(md("a|b\n[c](d)"), "a\\|b \\[c\\](d)");
    }
}
