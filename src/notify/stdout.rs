//! The standard-output channel, used when neither Slack nor Teams is configured: one JSON
//! object per line, `{"channel":"stdout","group":{...},"diagnoses":[...]}` (CONTRACT.md
//! section 8), so the output can be piped into `jq` or a log shipper.

use serde_json::{Value, json};

use super::report::Report;

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
}
