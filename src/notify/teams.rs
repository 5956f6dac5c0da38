//! The Microsoft Teams Workflows message: an Adaptive Card 1.4 in the `message` envelope
//! the "When a Teams webhook request is received" trigger expects
//! (notify-and-webhooks.md §2.2).
//!
//! Size: the flow answers `202` first and fails afterwards, silently for us, on a message
//! over 28,672 bytes *as it measures it*, after wrapping the card (a 24,453-byte request
//! was seen failing: MicrosoftDocs/msteams-docs#11274). So the whole request body is kept
//! under [`MAX_BYTES`] (20 KiB): the card is rendered again with fewer findings and lines
//! until it fits, and every text of every rendering is cut to a fixed length, so the
//! smallest one fits whatever the input.
//!
//! Text: TextBlocks and Fact values are Markdown in Teams, so every text that comes from
//! the event, CXone or the diagnosis goes through [`escape`] and reads as typed (a
//! `[link](http://x)` in an error message stays text, not a link).

use serde_json::{Value, json};

use super::report::{Report, format_secs, severity_word, truncate, waited_secs};

/// The card version Workflows renders reliably (1.5 does not display in Teams).
pub const CARD_VERSION: &str = "1.4";
/// Largest request body we POST, in bytes, as serialised (envelope included): well below
/// the flow's 28,672 bytes, which it counts after adding its own wrapping.
pub const MAX_BYTES: usize = 20 * 1024;

/// How much detail a rendering carries, and how long each kind of text may be (in
/// characters, before escaping); each level is smaller than the one before.
#[derive(Clone, Copy)]
struct Detail {
    findings: usize,
    finding_chars: usize,
    lines: usize,
    title_chars: usize,
    id_chars: usize,
    skill_chars: usize,
    error_chars: usize,
}

const LEVELS: &[Detail] = &[
    Detail {
        findings: 30,
        finding_chars: 2000,
        lines: 10,
        title_chars: 300,
        id_chars: 80,
        skill_chars: 200,
        error_chars: 300,
    },
    Detail {
        findings: 10,
        finding_chars: 600,
        lines: 10,
        title_chars: 200,
        id_chars: 80,
        skill_chars: 150,
        error_chars: 200,
    },
    Detail {
        findings: 5,
        finding_chars: 300,
        lines: 10,
        title_chars: 150,
        id_chars: 64,
        skill_chars: 100,
        error_chars: 200,
    },
    Detail {
        findings: 2,
        finding_chars: 200,
        lines: 5,
        title_chars: 120,
        id_chars: 64,
        skill_chars: 100,
        error_chars: 150,
    },
    // The smallest: at most about 1,600 characters of text, each at most 4 bytes once
    // escaped and serialised (control characters become spaces), so under 8 KB.
    Detail {
        findings: 0,
        finding_chars: 0,
        lines: 0,
        title_chars: 100,
        id_chars: 64,
        skill_chars: 100,
        error_chars: 120,
    },
];

/// The JSON body to POST to a Teams Workflows webhook: the most detailed rendering whose
/// serialised size is at most [`MAX_BYTES`].
pub fn render(report: &Report) -> Value {
    let mut last = Value::Null;
    for detail in LEVELS {
        last = build(report, *detail);
        if body_bytes(&last) <= MAX_BYTES {
            return last;
        }
    }
    // Unreachable by the bounds above (tests feed every field megabytes of the costliest
    // characters); should it happen, the card is still sent: Teams may refuse it, and that
    // is what the log line is for.
    tracing::error!(
        bytes = body_bytes(&last),
        max = MAX_BYTES,
        "the smallest Teams card is over the size cap"
    );
    last
}

/// The size of `body` as POSTed (reqwest serialises it with serde_json, compactly).
pub fn body_bytes(body: &Value) -> usize {
    serde_json::to_vec(body).map_or(usize::MAX, |b| b.len())
}

/// Backslash-escapes what Adaptive Card Markdown (CommonMark in Teams) would act on, so
/// text shows as typed: emphasis and strike (`*`, `_`, `~`), links and images (`[`, `]`),
/// code (`` ` ``), autolinks, HTML and entities (`<`, `>`, `&`), the backslash itself, and
/// list or heading markers at the start of a line (`-`, `+`, `#`, `1.`). Every character
/// escaped is ASCII punctuation, which CommonMark unescapes to itself. An underscore
/// inside a word is left alone.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut line_start = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Inside a word (`Support_Voice_EN`) an underscore cannot open or close
            // emphasis; leaving it bare keeps ids readable where escapes are shown raw.
            '_' if out.chars().next_back().is_some_and(char::is_alphanumeric)
                && chars.peek().is_some_and(|n| n.is_alphanumeric()) =>
            {
                out.push(c);
            }
            '\\' | '*' | '_' | '~' | '[' | ']' | '`' | '<' | '>' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '#' if line_start => {
                out.push('\\');
                out.push(c);
            }
            '0'..='9' if line_start => {
                // `1.` or `1)` opens an ordered list: escape the mark after the digits.
                out.push(c);
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
                if let Some(m) = chars.next_if(|m| *m == '.' || *m == ')') {
                    out.push('\\');
                    out.push(m);
                }
            }
            _ => out.push(c),
        }
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

/// Control characters as spaces: they would be serialised as 6-byte escapes and mean
/// nothing on a card. Line breaks stay when `keep_newlines`.
fn clean(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' if keep_newlines => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A one-line text from outside (an id, a skill, a title): cut to `max` characters,
/// then escaped. Cutting first keeps an escape from being split.
fn line(s: &str, max: usize) -> String {
    escape(&truncate(&clean(s, false), max))
}

/// Prose from outside (a finding's message or fix): like [`line`], keeping line breaks.
fn prose(s: &str, max: usize) -> String {
    escape(&truncate(&clean(s, true), max))
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
    // `HD303 no-agents-logged-in`; the name comes with the diagnosis, so it is cut too.
    let code_and_name = format!("{} {}", g.verdict.code.as_str(), line(&g.verdict.name, 60));
    let skill = g
        .target_skill
        .as_deref()
        .map(|s| line(s, detail.skill_chars));
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": format!("{code_and_name}: {}", line(&g.verdict.title, detail.title_chars)),
            "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true
        }),
        text_block(&r.count_sentence_naming(skill.as_deref())),
    ];

    let (ids, more) = r.listed_ids();
    let mut id_list = ids
        .iter()
        .map(|id| line(id, detail.id_chars))
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        id_list.push_str(&format!(" and {more} more"));
    }
    let mut facts = vec![
        json!({"title": "Verdict", "value": code_and_name}),
        json!({"title": "Skill", "value": skill.as_deref().unwrap_or("not named")}),
        json!({"title": "Failures", "value": if g.update {
            format!("{} new, {} in total", g.count, g.total)
        } else {
            g.count.to_string()
        }}),
        json!({"title": if r.diagnoses.len() == 1 { "Conversation" } else { "Conversations" }, "value": id_list}),
    ];
    if r.diagnoses.len() == 1 {
        let d = &r.diagnoses[0];
        let contact = d
            .contact_id
            .as_deref()
            .map_or_else(|| "unknown".to_string(), |c| line(c, detail.id_chars));
        facts.push(json!({"title": "Contact", "value": contact}));
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
                // Our own list item: the `- ` is ours, the id after it is escaped.
                let mut item = format!("- {}", line(&d.conversation_id, detail.id_chars));
                if let Some(c) = &d.contact_id {
                    item.push_str(&format!(" · contact {}", line(c, detail.id_chars)));
                }
                if let Some(w) = waited_secs(d) {
                    item.push_str(&format!(" · waited {}", format_secs(w)));
                }
                item
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
            line(&f.name, 60),
            severity_word(f.severity)
        );
        if r.diagnoses.len() > 1 && s.occurrences > 0 {
            head.push_str(&format!(" · in {} of {}", s.occurrences, r.diagnoses.len()));
        }
        // The fix gets up to a third of the room, the message the rest.
        let room = detail
            .finding_chars
            .saturating_sub(head.chars().count())
            .max(40);
        let fix_chars = f.fix.chars().count().min(room / 3).max(20);
        let message_chars = room.saturating_sub(fix_chars).max(20);
        let text = format!(
            "{head}: {}\n\nFix: {}",
            prose(&f.message, message_chars),
            prose(&f.fix, fix_chars)
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
            Some(e) => format!("CXone not checked: {}", line(e, detail.error_chars)),
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

    /// Every string in the card's body (texts, fact titles and values).
    fn card_texts(body: &Value) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    for (k, v) in o {
                        match (k.as_str(), v) {
                            ("text" | "title" | "value", Value::String(s)) => out.push(s.clone()),
                            _ => walk(v, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&body["attachments"][0]["content"]["body"], &mut out);
        out
    }

    fn request_bytes(body: &Value) -> usize {
        serde_json::to_vec(body).unwrap().len()
    }

    #[test]
    fn a_500_failure_group_stays_under_20_kib_as_posted() {
        use crate::diagnosis::Code;
        // Eleven distinct findings with long explanations, spread over the group.
        let codes = [
            Code::Hd108,
            Code::Hd303,
            Code::Hd304,
            Code::Hd305,
            Code::Hd203,
            Code::Hd205,
            Code::Hd206,
            Code::Hd207,
            Code::Hd204,
            Code::Hd109,
            Code::Hd503,
        ];
        let mut ds = Vec::new();
        for i in 0..500 {
            let mut d = diagnosis(
                "HD108",
                &format!("conv-{i:04}-{}", "z".repeat(60)),
                Some("Sales"),
            );
            d.contact_id = Some(format!("7455{i:08}"));
            let mut f = d.findings[0].clone();
            f.code = codes[i % codes.len()];
            f.name = f.code.name().to_string();
            f.message = format!(
                "SIP 488 on the transfer of call {i}: {}",
                "the SBC offered no codec the carrier accepts; ".repeat(30)
            );
            f.fix = "Offer PCMU or PCMA on the SBC trunk and retry the transfer. ".repeat(8);
            d.findings = vec![f];
            ds.push(d);
        }
        let body = render(&Report::new(Some("Sales".into()), false, 500, &ds));
        let bytes = request_bytes(&body);
        assert!(bytes <= 20_480, "{bytes} bytes");
        assert!(body.to_string().contains("and 490 more"));
        // Shrunk by showing fewer findings, not by dropping them all.
        assert!(
            body.to_string().contains("HD303 no-agents-logged-in"),
            "{body}"
        );
    }

    #[test]
    fn huge_free_text_in_every_field_still_makes_a_card_under_the_cap() {
        // Each field long, and made of what costs most bytes once escaped and serialised:
        // a backslash (Markdown escape, then JSON escape: 4 bytes), a 4-byte emoji, a
        // quote, a control character.
        let nasty = "\\\u{1F4DE}\"\u{7}[x](http://x)*_".repeat(500);
        let mut ds = Vec::new();
        for i in 0..30 {
            let mut d = diagnosis("HD303", &format!("{i}{nasty}"), Some(&nasty));
            d.contact_id = Some(nasty.clone());
            d.verdict.title = nasty.clone();
            d.verdict.name = nasty.clone();
            d.cxone.checked = false;
            d.cxone.error = Some(nasty.clone());
            for f in &mut d.findings {
                f.name = nasty.clone();
                f.message = nasty.clone();
                f.fix = nasty.clone();
            }
            ds.push(d);
        }
        for (skill, diagnoses) in [
            (Some(nasty.clone()), &ds[..1]),
            (Some(nasty.clone()), &ds[..]),
            (None, &ds[..]),
        ] {
            for update in [false, true] {
                let report = Report::new(skill.clone(), update, 9999, diagnoses);
                let bytes = request_bytes(&render(&report));
                assert!(bytes <= MAX_BYTES, "{bytes} bytes");
                // The guarantee: the smallest rendering alone fits, with room to spare.
                let smallest = request_bytes(&build(&report, *LEVELS.last().unwrap()));
                assert!(smallest <= MAX_BYTES / 2, "smallest: {smallest} bytes");
            }
        }
    }

    #[test]
    fn a_long_contact_id_is_cut_like_every_other_text() {
        let mut d = diagnosis("HD303", "conv-1", Some("Support"));
        d.contact_id = Some("7".repeat(30_000));
        let body = render(&Report::new(Some("Support".into()), false, 1, &[d]));
        assert!(request_bytes(&body) <= MAX_BYTES);
        for t in card_texts(&body) {
            assert!(
                t.chars().count() <= 4000,
                "a text of {} characters",
                t.chars().count()
            );
        }
        assert!(body.to_string().contains("7777…"), "cut with a mark");
    }

    #[test]
    fn markdown_in_text_from_events_and_cxone_is_shown_as_text() {
        let mut d = diagnosis("HD105", "conv-[a](http://evil)", Some("*Sales*_VIP_"));
        d.contact_id = Some("7455`12`".into());
        d.verdict.title = "Signal refused: [click here](http://evil.example) **now**".into();
        d.findings[0].message =
            "CXone said: [reset](http://evil.example/reset) & <b>bold</b>\n- item\n1. one".into();
        d.findings[0].fix = "Check ~~this~~ and _that_".into();
        d.cxone.checked = false;
        d.cxone.error = Some("HTTP 500 [docs](http://x)".into());
        let body = render(&Report::new(Some("*Sales*_VIP_".into()), false, 1, &[d]));
        let texts = card_texts(&body).join("\n");
        for raw in [
            "[click here](",
            "[reset](",
            "[docs](",
            "[a](",
            "*Sales*",
            "_VIP_",
            "**now**",
            "~~this~~",
            "_that_",
            "\n- item",
            "\n1. one",
            "`12`",
            "<b>",
        ] {
            assert!(
                !texts.contains(raw),
                "{raw:?} would be read as Markdown: {texts}"
            );
        }
        for shown in [
            r"\[click here\](http://evil.example)",
            r"\*Sales\*\_VIP\_",
            r"7455\`12\`",
            r"\[reset\]",
        ] {
            assert!(texts.contains(shown), "{shown:?} missing: {texts}");
        }
        // Our own emphasis stays.
        assert!(
            texts.contains("**HD105 signal-rejected** (error)"),
            "{texts}"
        );
    }

    #[test]
    fn markdown_escapes_cover_emphasis_links_code_and_line_starts() {
        assert_eq!(escape("[a](http://x)"), r"\[a\](http://x)");
        assert_eq!(escape("*b* _i_ ~s~ `c`"), r"\*b\* \_i\_ \~s\~ \`c\`");
        assert_eq!(escape(r"C:\x <b> &amp;"), r"C:\\x \<b\> \&amp;");
        assert_eq!(
            escape("- a\n+ b\n# c\n12. d\n  3) e"),
            "\\- a\n\\+ b\n\\# c\n12\\. d\n  3\\) e"
        );
        // Inside a line, or inside a word, nothing needs escaping.
        assert_eq!(
            escape("a-b 1. 2026-05-12 Support_Voice_EN"),
            "a-b 1. 2026-05-12 Support_Voice_EN"
        );
        assert_eq!(escape("_x"), r"\_x");
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
