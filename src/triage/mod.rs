//! Triage: the pure regulatory core of soupwatch. For one vulnerability finding on a released
//! medical-device component it proposes, from declarative rules, a work priority (P0-P4), the
//! FDA controlled/uncontrolled risk determination, the change classification through the FDA
//! and EU MDR lenses, whether an FSCA is involved, and which notifications are due by when;
//! every output carries the trace of the rules that fired and the rules file's SHA-256. All
//! outputs are provisional: a named human signs off in the ticket workflow ([`ticket`]).
//!
//! Rules live in `config/rules.toml` (format and variables in docs/rules.md); conditions are
//! CEL expressions evaluated with the `cel` crate (0.15, the cel-rust project; it was published
//! as `cel-interpreter` up to 0.10.0 and renamed `cel` from 0.11 on, so `cel-interpreter` no
//! longer receives releases and its last parser pulls a release-candidate `antlr4rust`; `cel`
//! is used without default features, so without regex, chrono-tz and base64). Nothing here does
//! I/O or reads a clock: the rules text and the awareness date are inputs.

pub mod days;
pub mod eval;
pub mod input;
pub mod rules;
pub mod ticket;

#[cfg(test)]
mod tests;

pub use days::{add_days, DayKind};
pub use eval::{
    eval_json, evaluate, ChangeEu, ChangeUs, Decision, Exploitability, Levels, Notification,
    Priority, RiskClass, TraceEntry,
};
pub use input::TriageInput;
pub use rules::{
    check, load_rules, Basis, RuleSet, RuleSummary, RulesError, RulesErrorKind, TableKind,
};
pub use ticket::{transition, GuardContext, GuardError, TicketState};

/// The shipped rules file, compiled into the binary as the default.
pub const DEFAULT_RULES: &str = include_str!("../../config/rules.toml");
