//! The standard-output channel, used when neither Slack nor Teams is configured: one JSON
//! object per line, `{"channel":"stdout","group":{...},"diagnoses":[...]}` (CONTRACT.md
//! section 8), so the output can be piped into `jq` or a log shipper. On a terminal a
//! person reads it instead, so each message is written as text ([`text`]).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::report::{Report, severity_word};

/// The JSON object for one message (masked, like every channel).
pub fn render(report: &Report) -> Value {
    let (ids, more) = report.listed_ids();
    json!({
        "channel": "stdout",
        "group": {
            "verdict": report.group.verdict,
            "targetSkill": report.group.target_skill,
            "update": report.group.update,
            "count": report.group.count,
            "total": report.group.total,
            "summary": report.summary_line(),
            "conversationIds": ids,
            "moreConversations": more,
        },
        "diagnoses": report.diagnoses,
    })
}

/// The line to write: [`render`] as compact JSON, ending in a newline.
pub fn line(report: &Report) -> String {
    let mut s = render(report).to_string();
    s.push('\n');
    s
}

/// One message as a person reads it in a terminal: the verdict, how many failures and
/// which conversations, each distinct finding with its fix, and where to read more.
pub fn text(report: &Report) -> String {
    let g = &report.group;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", report.code_and_name(), g.verdict.title);
    let (ids, more) = report.listed_ids();
    let noun = if report.diagnoses.len() == 1 {
        "Conversation"
    } else {
        "Conversations"
    };
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let _ = writeln!(out, "{}", report.count_sentence());
    let _ = writeln!(out, "{noun}: {}{more}", ids.join(", "));
    for shown in report.findings() {
        let f = shown.finding;
        let share = if report.diagnoses.len() > 1 && shown.occurrences > 0 {
            format!(", {} of {}", shown.occurrences, report.diagnoses.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\n  {} {} ({}{share})",
            f.code,
            f.name,
            severity_word(f.severity)
        );
        let _ = writeln!(out, "    {}", f.message);
        let _ = writeln!(out, "    Fix: {}", f.fix);
    }
    let _ = writeln!(
        out,
        "\n{}. More: handover-doctor explain {}",
        report.diagnosed_sentence(),
        g.verdict.code
    );
    out.push_str(&"─".repeat(72));
    out.push_str("\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::report::tests::diagnosis;

    #[test]
    fn one_message_is_one_json_line_with_group_and_diagnoses() {
        let mut d = diagnosis("HD203", "conv-1", None);
        d.findings[0]
            .evidence
            .insert("fromAddress".into(), json!("+4915112345678"));
        let l = line(&Report::new(None, false, 1, &[d]));
        assert!(l.ends_with('\n'));
        assert_eq!(l.matches('\n').count(), 1);
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["channel"], "stdout");
        assert_eq!(v["group"]["verdict"]["code"], "HD203");
        assert_eq!(v["group"]["conversationIds"][0], "conv-1");
        assert_eq!(v["diagnoses"][0]["contactId"], "745512890123");
        assert_eq!(
            v["diagnoses"][0]["findings"][0]["evidence"]["fromAddress"],
            "•••5678"
        );
        assert!(!l.contains("4915112345678"));
    }

    #[test]
    fn on_a_terminal_a_group_reads_as_text_with_its_verdict_conversations_and_fix() {
        let mut a = diagnosis("HD303", "conv-1", Some("Support_Voice_EN"));
        a.findings[0]
            .evidence
            .insert("fromAddress".into(), json!("+4915112345678"));
        let b = diagnosis("HD303", "conv-2", Some("Support_Voice_EN"));
        let t = text(&Report::new(
            Some("Support_Voice_EN".to_string()),
            false,
            2,
            &[a, b],
        ));
        let first = t.lines().next().unwrap();
        assert!(first.starts_with("HD303 no-agents-logged-in: "), "{t}");
        assert!(
            t.contains("2 failed handovers for skill Support_Voice_EN"),
            "{t}"
        );
        assert!(t.contains("Conversations: conv-1, conv-2"), "{t}");
        assert!(t.contains("Fix: "), "{t}");
        assert!(t.contains("handover-doctor explain HD303"), "{t}");
        assert!(!t.trim_start().starts_with('{'), "not JSON: {t}");
        assert!(!t.contains("4915112345678"), "{t}");
    }
}
