//! What people read: the terminal report of a diagnosis, and `explain` for finding codes.

use std::fmt::Write;

use super::codes::Code;
use super::model::{Diagnosis, Severity, Source};
use super::rules;

/// The documentation of one finding code, as `handover-doctor explain CODE` prints it: the
/// code, its name and title, then the rule's documentation (What it means / Why it
/// matters / How to fix).
pub fn explain(code: Code) -> String {
    let rule = rules::entry(code);
    format!(
        "{} {}: {}\n\n{}",
        code,
        code.name(),
        rule.title,
        rule.doc.trim_end()
    ) + "\n"
}

/// Every code with its name and title, one per line, in table order (`explain --list`).
pub fn explain_list() -> String {
    let width = Code::ALL.iter().map(|c| c.name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rules::RULES {
        let _ = writeln!(out, "{}  {:width$}  {}", r.code, r.code.name(), r.title);
    }
    out
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// A report a person reads in a terminal: the verdict first, then each finding with its
/// fix, then the timeline.
pub fn render_text(d: &Diagnosis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {}",
        d.verdict.code, d.verdict.name, d.verdict.title
    );
    let mut about = Vec::new();
    if !d.conversation_id.is_empty() {
        about.push(format!("conversation {}", d.conversation_id));
    }
    if let Some(c) = &d.contact_id {
        about.push(format!("contact {c}"));
    }
    if let Some(s) = &d.target_skill {
        about.push(format!("skill {s}"));
    }
    if !about.is_empty() {
        let _ = writeln!(out, "{}", about.join(" · "));
    }
    let cxone = match (&d.cxone.checked, &d.cxone.error) {
        (true, None) => "checked".to_string(),
        (true, Some(e)) => format!("checked, partly: {e}"),
        (false, Some(e)) => format!("not checked: {e}"),
        (false, None) => "not checked".to_string(),
    };
    let _ = writeln!(out, "CXone: {cxone}");

    let _ = writeln!(out, "\nFindings:");
    for (i, f) in d.findings.iter().enumerate() {
        let mark = if i == 0 { "verdict, " } else { "" };
        let _ = writeln!(
            out,
            "  {} {} ({mark}{})",
            f.code,
            f.name,
            severity(f.severity)
        );
        let _ = writeln!(out, "    {}", f.message);
        let _ = writeln!(out, "    Fix: {}", f.fix);
    }

    if !d.timeline.is_empty() {
        let _ = writeln!(out, "\nTimeline:");
        let width = d.timeline.iter().map(|t| t.event.len()).max().unwrap_or(0);
        for t in &d.timeline {
            let source = match t.source {
                Source::Cxone => "cxone",
                Source::Cognigy => "cognigy",
            };
            let line = format!(
                "  {}  {source:<7}  {:width$}  {}",
                t.at.format("%Y-%m-%d %H:%M:%S"),
                t.event,
                t.detail
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let _ = writeln!(
        out,
        "\nDiagnosed at {} (event {}). More: handover-doctor explain {}",
        d.diagnosed_at.format("%Y-%m-%dT%H:%M:%SZ"),
        d.event_id,
        d.verdict.code
    );
    out
}
