//! The Microsoft Teams Workflows message: an Adaptive Card 1.4 in the `message` envelope
//! the "When a Teams webhook request is received" trigger expects
//! (notify-and-webhooks.md §2.2).
//!
//! Teams refuses messages over 28 KB, so the card is rendered again with less detail until
//! its JSON is comfortably below that ([`MAX_BYTES`]); the smallest rendering is bounded
//! whatever the input.

use serde_json::{Value, json};

use super::report::{Report, format_secs, severity_word, truncate, waited_secs};

/// The card version Workflows renders reliably (1.5 does not display in Teams).
pub const CARD_VERSION: &str = "1.4";
/// Largest serialised body we send; Teams' limit is 28 KB, and the flow wraps the card.
pub const MAX_BYTES: usize = 26_000;

#[derive(Clone, Copy)]
struct Detail {
    findings: usize,
    finding_chars: usize,
    lines: usize,
    title_chars: usize,
}

const LEVELS: &[Detail] = &[
    Detail {
        findings: 30,
        finding_chars: 2000,
        lines: 10,
        title_chars: 300,
    },
    Detail {
        findings: 10,
        finding_chars: 500,
        lines: 10,
        title_chars: 200,
    },
    Detail {
        findings: 3,
        finding_chars: 200,
        lines: 10,
        title_chars: 150,
    },
    Detail {
        findings: 0,
        finding_chars: 0,
        lines: 0,
        title_chars: 100,
    },
];

/// The JSON body to POST to a Teams Workflows webhook.
pub fn render(report: &Report) -> Value {
    let mut last = Value::Null;
    for detail in LEVELS {
        last = build(report, *detail);
        if serde_json::to_vec(&last)
            .map(|b| b.len())
            .unwrap_or(usize::MAX)
            <= MAX_BYTES
        {
            return last;
        }
    }
    last
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": if text.trim().is_empty() { "—" } else { text }, "wrap": true})
}

fn build(r: &Report, detail: Detail) -> Value {
    let g = &r.group;
    let colour = match g.verdict.code.as_str() {
        "HD401" => "Good",
        "HD402" => "Warning",
        _ => "Attention",
    };
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": truncate(&format!("{}: {}", r.code_and_name(), g.verdict.title), detail.title_chars),
            "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true
        }),
        text_block(&truncate(&r.count_sentence(), 400)),
    ];

    let (ids, more) = r.listed_ids();
    let mut id_list = ids
        .iter()
        .map(|id| truncate(id, 80))
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        id_list.push_str(&format!(" and {more} more"));
    }
    let mut facts = vec![
        json!({"title": "Verdict", "value": r.code_and_name()}),
        json!({"title": "Skill", "value": truncate(g.target_skill.as_deref().unwrap_or("not named"), 200)}),
        json!({"title": "Failures", "value": if g.update {
            format!("{} new, {} in total", g.count, g.total)
        } else {
            g.count.to_string()
        }}),
        json!({"title": if r.diagnoses.len() == 1 { "Conversation" } else { "Conversations" }, "value": id_list}),
    ];
    if r.diagnoses.len() == 1 {
        let d = &r.diagnoses[0];
        facts.push(
            json!({"title": "Contact", "value": d.contact_id.as_deref().unwrap_or("unknown")}),
        );
        if let Some(w) = waited_secs(d) {
            facts.push(json!({"title": "Waited", "value": format_secs(w)}));
        }
    }
    body.push(json!({"type": "FactSet", "facts": facts}));

    if r.diagnoses.len() > 1 && detail.lines > 0 {
        let lines: Vec<String> = r
            .diagnoses
            .iter()
            .take(detail.lines)
            .map(|d| {
                let mut line = format!("- {}", truncate(&d.conversation_id, 80));
                if let Some(c) = &d.contact_id {
                    line.push_str(&format!(" · contact {}", truncate(c, 40)));
                }
                if let Some(w) = waited_secs(d) {
                    line.push_str(&format!(" · waited {}", format_secs(w)));
                }
                line
            })
            .collect();
        body.push(text_block(&lines.join("\n")));
    }

    let findings = r.findings();
    let shown = findings.len().min(detail.findings);
    for s in findings.iter().take(shown) {
        let f = s.finding;
        let mut head = format!(
            "**{} {}** ({})",
            f.code.as_str(),
            f.name,
            severity_word(f.severity)
        );
        if r.diagnoses.len() > 1 && s.occurrences > 0 {
            head.push_str(&format!(" · in {} of {}", s.occurrences, r.diagnoses.len()));
        }
        let text = truncate(
            &format!("{head}: {}\n\nFix: {}", f.message, f.fix),
            detail.finding_chars.max(head.chars().count() + 20),
        );
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true, "separator": true}));
    }
    if findings.len() > shown {
        body.push(json!({
            "type": "TextBlock", "isSubtle": true, "wrap": true,
            "text": format!("…and {} more finding{} not shown", findings.len() - shown,
                            if findings.len() - shown == 1 { "" } else { "s" })
        }));
    }
    let d0 = &r.diagnoses[0];
    let cxone = if d0.cxone.checked {
        "CXone checked".to_string()
    } else {
        match &d0.cxone.error {
            Some(e) => format!("CXone not checked: {}", truncate(e, 200)),
            None => "CXone not checked".to_string(),
        }
    };
    body.push(json!({
        "type": "TextBlock", "size": "Small", "isSubtle": true, "wrap": true,
        "text": format!("{} · {} · handover-doctor explain {}", r.diagnosed_sentence(), cxone, g.verdict.code.as_str())
    }));

    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": CARD_VERSION,
                "body": body,
                "msteams": {"width": "full"}
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::report::tests::diagnosis;

    #[test]
    fn the_card_sits_in_the_workflows_envelope_with_version_1_4() {
        let d = diagnosis("HD303", "conv-1", Some("Support"));
        let body = render(&Report::new(Some("Support".into()), false, 1, &[d]));
        assert_eq!(body["type"], "message");
        let a = &body["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert!(a["contentUrl"].is_null());
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        assert_eq!(a["content"]["msteams"]["width"], "full");
        let all = body.to_string();
        assert!(all.contains("HD303 no-agents-logged-in"));
        assert!(all.contains("conv-1") && all.contains("745512890123") && all.contains("42 s"));
        assert!(
            all.contains("**HD303 no-agents-logged-in** (error)"),
            "{all}"
        );
    }

    #[test]
    fn a_huge_group_is_shrunk_below_28_kb() {
        let mut ds = Vec::new();
        for i in 0..500 {
            let mut d = diagnosis(
                "HD108",
                &format!("conv-{i:04}-{}", "z".repeat(200)),
                Some("Sales"),
            );
            if i == 0 {
                for j in 0..300 {
                    let mut f = d.findings[0].clone();
                    f.message = format!("finding {j} {}", "long text ".repeat(300));
                    d.findings.push(f);
                }
            }
            d.verdict.title = "t".repeat(5000);
            ds.push(d);
        }
        let body = render(&Report::new(Some("Sales".into()), false, 500, &ds));
        let bytes = serde_json::to_vec(&body).unwrap().len();
        assert!(bytes <= MAX_BYTES, "{bytes} bytes");
        const { assert!(MAX_BYTES < 28 * 1000) };
        assert_eq!(body["attachments"][0]["content"]["version"], "1.4");
        assert!(body.to_string().contains("and 490 more"));
    }
}
