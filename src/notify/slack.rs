//! The Slack incoming-webhook message: a `text` fallback line plus Block Kit `blocks`.
//!
//! Slack answers an over-long block with a bare `invalid_blocks` and no detail, so every
//! limit is enforced here, before sending (notify-and-webhooks.md §1.2): at most 50
//! blocks, header `plain_text` ≤ 150 characters, section text ≤ 3000, fields ≤ 10 × 2000,
//! context ≤ 10 elements, no empty text. Every value is cut to a fixed length (an id inside
//! its code span, so the span stays closed), long texts are cut with `…` (never inside an
//! entity: see [`clip`]), and a message whose blocks would still be very long is rendered
//! again with less detail: it never fails on size.
//!
//! Text from the event, CXone or the diagnosis is shown as typed: see [`text`] for prose
//! and names, [`code`] for ids.

use serde_json::{Value, json};

use super::report::{Report, format_secs, severity_word, truncate, waited_secs};

/// Blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// Characters in a header's `plain_text`.
pub const MAX_HEADER: usize = 150;
/// Characters in a section's text.
pub const MAX_SECTION: usize = 3000;
/// Fields per section.
pub const MAX_FIELDS: usize = 10;
/// Characters per field.
pub const MAX_FIELD: usize = 2000;
/// Elements per context block.
pub const MAX_CONTEXT: usize = 10;
/// Characters of the top-level `text` we send (Slack truncates above 40 000).
pub const MAX_TEXT: usize = 3000;
/// Characters of block text in all; Slack has been seen refusing messages whose blocks
/// total around 13 000 characters (`msg_blocks_too_long`), so stay below that.
pub const MAX_TOTAL_BLOCK_TEXT: usize = 11_000;
/// Characters of an id (conversation, contact) before it is cut.
const ID_CHARS: usize = 80;
/// Characters of a skill before it is cut.
const SKILL_CHARS: usize = 150;
/// Characters of a verdict's or finding's name before it is cut.
const NAME_CHARS: usize = 60;

/// How much detail a rendering carries; each level is smaller than the one before.
#[derive(Clone, Copy)]
struct Detail {
    findings: usize,
    finding_chars: usize,
    lines: usize,
}

const LEVELS: &[Detail] = &[
    Detail {
        findings: 40,
        finding_chars: MAX_SECTION,
        lines: 10,
    },
    Detail {
        findings: 15,
        finding_chars: 600,
        lines: 10,
    },
    Detail {
        findings: 5,
        finding_chars: 300,
        lines: 10,
    },
    Detail {
        findings: 1,
        finding_chars: 200,
        lines: 3,
    },
];

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What stands in for a formatting character in text shown as typed.
fn look_alike(c: char) -> char {
    match c {
        '*' => '∗', // U+2217 ASTERISK OPERATOR
        '_' => 'ˍ', // U+02CD MODIFIER LETTER LOW MACRON
        '~' => '∼', // U+223C TILDE OPERATOR
        '`' => 'ˋ', // U+02CB MODIFIER LETTER GRAVE ACCENT
        c => c,
    }
}

/// Control characters as spaces (line breaks too unless `keep_newlines`): a line break
/// would end a code span, and the rest mean nothing in a message.
fn clean(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' if keep_newlines => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Free text (a message, a fix, a skill, an error from CXone) as mrkdwn that shows it as
/// typed. Slack's mrkdwn has no escape character: `&`, `<` and `>` become the entities
/// Slack documents (so `<!channel>` or `<http://x|click>` stay text), and `*`, `_`, `~`
/// and the backtick, which would open bold, italics, strike or code, become look-alikes
/// (`∗ ˍ ∼ ˋ`): the reader sees the same text, and no markup of ours (the bold around a
/// sentence, a code span after it) can be closed or opened by it. An underscore inside a
/// word (`Support_Voice_EN`) opens nothing in Slack and stays.
pub fn text(s: &str) -> String {
    let s = escape(&clean(s, true));
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let inside_word = c == '_'
                && i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if inside_word { c } else { look_alike(c) }
        })
        .collect()
}

/// An id in a code span, cut to `max` characters as sent (inside the span, so it stays
/// closed, and never inside an entity). Inside a code span `*`, `_` and `~` are literal, but a backtick cannot be
/// escaped and would end the span: it becomes the look-alike `ˋ`, so the id reads the
/// same and the span holds. Dropping the code formatting instead would expose the other
/// characters to formatting; an id with a backtick is rare enough that the look-alike is
/// the lesser change.
pub fn code(s: &str, max: usize) -> String {
    let value = escape(&clean(non_empty(s), false).replace('`', "ˋ"));
    format!("`{}`", clip(&value, max))
}

/// A name or skill on one line as [`text`], cut to `max` characters as sent.
fn name(s: &str, max: usize) -> String {
    clip(&text(&clean(s, false)), max)
}

/// Cuts escaped mrkdwn to at most `max` characters, like [`truncate`], but never inside
/// an entity: half of `&amp;` would show as a stray `&am…`. Limits count the escaped text
/// (what Slack receives), so escaping first and cutting here keeps every limit exact.
pub fn clip(escaped: &str, max: usize) -> String {
    if escaped.chars().count() <= max {
        return escaped.to_string();
    }
    let cut = truncate(escaped, max);
    let kept = cut.strip_suffix('…').unwrap_or(&cut);
    match kept.rfind('&') {
        // `escape` writes every `&` as the start of an entity that ends in `;`.
        Some(amp) if !kept[amp..].contains(';') => format!("{}…", &kept[..amp]),
        _ => cut,
    }
}

/// The JSON body to POST to a Slack incoming webhook.
pub fn render(report: &Report) -> Value {
    let body = LEVELS
        .iter()
        .map(|detail| build(report, *detail))
        .find(|body| block_text_len(body) <= MAX_TOTAL_BLOCK_TEXT)
        .unwrap_or_else(|| {
            build(
                report,
                Detail {
                    findings: 0,
                    finding_chars: 0,
                    lines: 0,
                },
            )
        });
    match validate(&body) {
        Ok(()) => body,
        Err(why) => {
            // A rendering bug must not cost the message: Slack would refuse it for good
            // (`invalid_blocks`), so send the summary alone.
            tracing::error!(reason = %why, "Slack message broke a Block Kit limit; sending the summary only");
            minimal(report)
        }
    }
}

/// The top-level `text`: the summary line, shown as typed.
fn fallback_text(r: &Report) -> String {
    clip(&text(&r.summary_line()), MAX_TEXT)
}

/// The smallest message: the header and the summary line.
fn minimal(r: &Report) -> Value {
    json!({
        "text": fallback_text(r),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(non_empty(&clean(&r.code_and_name(), false)), MAX_HEADER)}},
            section(&text(&truncate(&r.summary_line(), MAX_SECTION))),
        ],
    })
}

fn build(r: &Report, detail: Detail) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let g = &r.group;

    // plain_text: Slack formats nothing in a header, so it needs no escaping.
    let header = clean(
        &format!("{}: {}", r.code_and_name(), g.verdict.title),
        false,
    );
    blocks.push(json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(non_empty(&header), MAX_HEADER), "emoji": false}
    }));

    let skill = g.target_skill.as_deref().map(|s| name(s, SKILL_CHARS));
    let (ids, more) = r.listed_ids();
    let mut summary = format!("*{}*\n", r.count_sentence_naming(skill.as_deref()));
    summary.push_str(if r.diagnoses.len() == 1 {
        "*Conversation:* "
    } else {
        "*Conversations:* "
    });
    summary.push_str(
        &ids.iter()
            .map(|id| code(id, ID_CHARS))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if more > 0 {
        summary.push_str(&format!(" and {more} more"));
    }
    blocks.push(section(&summary));

    if r.diagnoses.len() == 1 {
        let d = &r.diagnoses[0];
        let mut fields = vec![
            field("Conversation", &code(&d.conversation_id, ID_CHARS)),
            field(
                "Contact",
                &d.contact_id
                    .as_deref()
                    .map(|c| code(c, ID_CHARS))
                    .unwrap_or_else(|| "unknown".into()),
            ),
            field(
                "Skill",
                &d.target_skill
                    .as_deref()
                    .map(|s| name(s, SKILL_CHARS))
                    .unwrap_or_else(|| "not named".into()),
            ),
        ];
        if let Some(w) = waited_secs(d) {
            fields.push(field("Waited", &format_secs(w)));
        }
        fields.truncate(MAX_FIELDS);
        blocks.push(json!({"type": "section", "fields": fields}));
    } else if detail.lines > 0 {
        let mut lines = Vec::new();
        for d in r.diagnoses.iter().take(detail.lines) {
            let mut line = format!("• {}", code(&d.conversation_id, ID_CHARS));
            if let Some(c) = &d.contact_id {
                line.push_str(&format!(" · contact {}", code(c, ID_CHARS)));
            }
            if let Some(w) = waited_secs(d) {
                line.push_str(&format!(" · waited {}", format_secs(w)));
            }
            lines.push(line);
        }
        let skill = skill.as_deref().unwrap_or("not named");
        blocks.push(section(&format!("*Skill:* {skill}\n{}", lines.join("\n"))));
    }

    let findings = r.findings();
    // Room for the findings: what is left after the context block and a "more" note.
    let room = MAX_BLOCKS.saturating_sub(blocks.len() + 2);
    let shown = findings.len().min(detail.findings).min(room);
    for s in findings.iter().take(shown) {
        let f = s.finding;
        let mut head = format!(
            "*{} {}* ({})",
            f.code.as_str(),
            name(&f.name, NAME_CHARS),
            severity_word(f.severity)
        );
        if r.diagnoses.len() > 1 && s.occurrences > 0 {
            head.push_str(&format!(" · in {} of {}", s.occurrences, r.diagnoses.len()));
        }
        let body = format!(
            "\n{}\n*Fix:* {}",
            text(non_empty(&f.message)),
            text(non_empty(&f.fix))
        );
        head.push_str(&clip(
            &body,
            detail.finding_chars.saturating_sub(head.chars().count()),
        ));
        blocks.push(section(&head));
    }
    if findings.len() > shown {
        blocks.push(section(&format!(
            "_…and {} more finding{} not shown_",
            findings.len() - shown,
            if findings.len() - shown == 1 { "" } else { "s" }
        )));
    }

    let d0 = &r.diagnoses[0];
    let mut context = vec![json!({"type": "mrkdwn", "text": text(&r.diagnosed_sentence())})];
    let cxone = if d0.cxone.checked {
        "CXone checked".to_string()
    } else {
        match &d0.cxone.error {
            Some(e) => format!("CXone not checked: {}", clip(&text(e), 300)),
            None => "CXone not checked".to_string(),
        }
    };
    context.push(json!({"type": "mrkdwn", "text": cxone}));
    context.push(json!({"type": "mrkdwn", "text": format!("`handover-doctor explain {}`", g.verdict.code.as_str())}));
    context.truncate(MAX_CONTEXT);
    blocks.push(json!({"type": "context", "elements": context}));
    blocks.truncate(MAX_BLOCKS);

    json!({
        "text": fallback_text(r),
        "blocks": blocks,
    })
}

fn non_empty(s: &str) -> &str {
    if s.trim().is_empty() { "—" } else { s }
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(non_empty(text), MAX_SECTION)}})
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": clip(&format!("*{label}*\n{}", non_empty(value)), MAX_FIELD)})
}

fn block_text_len(body: &Value) -> usize {
    fn walk(v: &Value) -> usize {
        match v {
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("text", Value::String(s)) => s.chars().count(),
                    _ => walk(v),
                })
                .sum(),
            Value::Array(a) => a.iter().map(walk).sum(),
            _ => 0,
        }
    }
    walk(&body["blocks"])
}

/// Checks a rendered body against Slack's Block Kit limits; the error says which one is
/// broken. Used by tests, and cheap enough to run before every send.
///
/// # Errors
/// A sentence naming the first limit the body breaks.
pub fn validate(body: &Value) -> Result<(), String> {
    let text = body["text"].as_str().ok_or("no top-level text")?;
    if text.trim().is_empty() {
        return Err("empty top-level text".into());
    }
    let blocks = body["blocks"].as_array().ok_or("no blocks")?;
    if blocks.is_empty() || blocks.len() > MAX_BLOCKS {
        return Err(format!("{} blocks", blocks.len()));
    }
    let check = |t: &Value, max: usize, what: &str| -> Result<(), String> {
        let s = t["text"].as_str().ok_or(format!("{what} without text"))?;
        let n = s.chars().count();
        if n == 0 || n > max {
            return Err(format!("{what} text of {n} characters"));
        }
        Ok(())
    };
    for b in blocks {
        match b["type"].as_str() {
            Some("header") => {
                if b["text"]["type"] != "plain_text" {
                    return Err("header text is not plain_text".into());
                }
                check(&b["text"], MAX_HEADER, "header")?;
            }
            Some("section") => {
                if let Some(fields) = b["fields"].as_array() {
                    if fields.is_empty() || fields.len() > MAX_FIELDS {
                        return Err(format!("section with {} fields", fields.len()));
                    }
                    for f in fields {
                        check(f, MAX_FIELD, "field")?;
                    }
                } else {
                    check(&b["text"], MAX_SECTION, "section")?;
                }
            }
            Some("context") => {
                let els = b["elements"].as_array().ok_or("context without elements")?;
                if els.is_empty() || els.len() > MAX_CONTEXT {
                    return Err(format!("context with {} elements", els.len()));
                }
                for e in els {
                    check(e, MAX_SECTION, "context element")?;
                }
            }
            Some("divider") => {}
            other => return Err(format!("unexpected block type {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::Diagnosis;
    use crate::notify::report::tests::diagnosis;

    #[test]
    fn a_single_diagnosis_renders_header_fields_findings_and_context() {
        let d = diagnosis("HD303", "conv-1", Some("Support_Voice_EN"));
        let body = render(&Report::new(
            Some("Support_Voice_EN".into()),
            false,
            1,
            &[d],
        ));
        validate(&body).unwrap();
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .unwrap()
                .starts_with("HD303 no-agents-logged-in")
        );
        let all = body.to_string();
        assert!(all.contains("conv-1") && all.contains("745512890123") && all.contains("42 s"));
        assert!(all.contains("*Fix:* Log agents in"));
        assert_eq!(blocks.last().unwrap()["type"], "context");
        assert!(body["text"].as_str().unwrap().contains("HD303"));
    }

    #[test]
    fn a_huge_group_with_hundreds_of_findings_stays_within_every_limit() {
        let mut ds = Vec::new();
        for i in 0..500 {
            let mut d = diagnosis("HD108", &format!("conv-{i:04}"), Some("Sales"));
            d.verdict.title = "x".repeat(400);
            if i == 0 {
                for j in 0..300 {
                    let mut f = d.findings[0].clone();
                    f.message = format!("finding {j} {}", "long text & <more> ".repeat(300));
                    f.fix = "y".repeat(5000);
                    d.findings.push(f);
                }
            }
            ds.push(d);
        }
        let body = render(&Report::new(Some("Sales".into()), false, 500, &ds));
        validate(&body).unwrap();
        assert!(block_text_len(&body) <= MAX_TOTAL_BLOCK_TEXT);
        let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER);
        assert!(header.ends_with('…'));
        assert!(body.to_string().contains("and 490 more"));
    }

    #[test]
    fn the_fallback_message_is_valid_too() {
        let d = diagnosis("HD303", "conv-1", None);
        let body = minimal(&Report::new(None, false, 1, &[d]));
        validate(&body).unwrap();
        assert!(body.to_string().contains("conv-1"));
    }

    #[test]
    fn validation_catches_a_broken_limit() {
        let body = json!({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}}]});
        assert!(validate(&body).unwrap_err().contains("header"));
        let body = json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]});
        assert!(validate(&body).is_err());
    }

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        let mut d = diagnosis("HD105", "conv-<1>", None);
        d.findings[0].message = "status <500> & more".into();
        let body = render(&Report::new(None, false, 1, &[d]));
        let all = body.to_string();
        assert!(all.contains("status &lt;500&gt; &amp; more"), "{all}");
        assert!(!all.contains("<500>"));
    }

    /// Every mrkdwn text of a body: the top-level text, sections, fields, context.
    fn mrkdwn_texts(body: &Value) -> Vec<String> {
        let mut texts = vec![body["text"].as_str().unwrap().to_string()];
        for b in body["blocks"].as_array().unwrap() {
            let objects = b["fields"]
                .as_array()
                .into_iter()
                .chain(b["elements"].as_array())
                .flatten()
                .chain(std::iter::once(&b["text"]));
            for t in objects {
                if t["type"] == "mrkdwn" {
                    texts.push(t["text"].as_str().unwrap().to_string());
                }
            }
        }
        texts
    }

    #[test]
    fn ids_and_skills_with_formatting_characters_cannot_break_the_formatting() {
        let skill = "*VIP*_x_ ~y~ `z` <!channel> & co";
        for n in [1, 3] {
            let ds: Vec<Diagnosis> = (0..n)
                .map(|i| {
                    let mut d = diagnosis("HD303", &format!("conv`{i}*x*`"), Some(skill));
                    d.contact_id = Some("7455`12_3_".into());
                    d
                })
                .collect();
            let body = render(&Report::new(Some(skill.into()), false, n, &ds));
            validate(&body).unwrap();
            for t in mrkdwn_texts(&body) {
                // Every code span opened is closed: an even number of backticks.
                assert_eq!(t.matches('`').count() % 2, 0, "unbalanced code span: {t}");
                for raw in ["*VIP*", "_x_", "~y~", "<!channel>", "`z`", "conv`", "7455`"] {
                    assert!(!t.contains(raw), "{raw:?} reached Slack as markup: {t}");
                }
            }
            let all = body.to_string();
            assert!(
                all.contains("`convˋ0*x*ˋ`"),
                "the id in code, backticks as look-alikes: {all}"
            );
            assert!(all.contains("&lt;!channel&gt; &amp; co"), "{all}");
            assert!(all.contains("∗VIP∗"), "{all}");
        }
    }

    #[test]
    fn free_text_from_events_and_cxone_is_shown_as_text() {
        let mut d = diagnosis("HD105", "conv-1", None);
        d.verdict.title = "*urgent* <https://evil.example|click here>".into();
        d.findings[0].message = "CXone said *no* and _maybe_ ~never~ `rm -rf` <@U123>".into();
        d.findings[0].fix = "```\ncode block\n```".into();
        d.cxone.checked = false;
        d.cxone.error = Some("HTTP 500 *boom*".into());
        let body = render(&Report::new(None, false, 1, &[d]));
        validate(&body).unwrap();
        for t in mrkdwn_texts(&body) {
            for raw in [
                "*no*",
                "_maybe_",
                "~never~",
                "`rm -rf`",
                "<@U123>",
                "```",
                "*boom*",
                "<https://",
            ] {
                assert!(!t.contains(raw), "{raw:?} reached Slack as markup: {t}");
            }
        }
        let all = body.to_string();
        assert!(
            all.contains("CXone said ∗no∗ and ˍmaybeˍ ∼never∼ ˋrm -rfˋ &lt;@U123&gt;"),
            "{all}"
        );
        // Our own markup stays.
        assert!(all.contains("*HD105 signal-rejected* (error)"), "{all}");
        assert!(all.contains("*Fix:*"), "{all}");
    }

    #[test]
    fn every_text_is_bounded_even_a_huge_id() {
        // Plain, and made of what grows most when escaped (`&` is 5 characters as sent).
        for filler in ["c", "&<>"] {
            let huge = filler.repeat(3_000);
            for n in [1, 12] {
                let ds: Vec<Diagnosis> = (0..n)
                    .map(|i| {
                        let mut d = diagnosis("HD303", &format!("{i}{huge}"), Some(&huge));
                        d.contact_id = Some(huge.clone());
                        d.verdict.name = huge.clone();
                        d.findings[0].name = huge.clone();
                        d
                    })
                    .collect();
                let body = render(&Report::new(Some(huge.clone()), false, n, &ds));
                validate(&body).unwrap();
                // The ids are cut inside their code spans, so the spans stay closed.
                for t in mrkdwn_texts(&body) {
                    assert_eq!(t.matches('`').count() % 2, 0, "unbalanced code span: {t}");
                    assert!(entities_whole(&t), "a split entity in: {t}");
                }
                let all = body.to_string();
                assert!(all.contains("…`"), "ids cut with a mark, inside the span");
            }
        }
    }

    /// True when every `&` in `s` starts a whole entity.
    fn entities_whole(s: &str) -> bool {
        s.match_indices('&').all(|(i, _)| {
            ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| s[i..].starts_with(e))
        })
    }

    #[test]
    fn a_cut_never_splits_an_escaped_entity() {
        let escaped = escape("a & b");
        assert_eq!(escaped, "a &amp; b");
        // Every cut that would land inside `&amp;` backs off to before it.
        for max in 3..=8 {
            let c = clip(&escaped, max);
            assert!(entities_whole(&c), "{max}: {c}");
            assert!(c.chars().count() <= max, "{max}: {c}");
        }
        assert_eq!(clip(&escaped, 5), "a …");
        assert_eq!(clip(&escaped, 8), "a &amp;…");
        assert_eq!(clip(&escaped, 9), escaped);
    }

    #[test]
    fn long_findings_full_of_ampersands_are_cut_on_entity_boundaries() {
        let mut d = diagnosis("HD105", "conv-1", None);
        // Every offset of the 20-character escaped pattern, so some cut lands in each
        // of its entities.
        for pad in 0..20 {
            d.findings[0].message = format!("{}{}", "x".repeat(pad), "R&D <ops> ".repeat(400));
            d.findings[0].fix = "&".repeat(pad);
            d.verdict.title = format!("{}{}", "y".repeat(pad), "&".repeat(2000));
            let body = render(&Report::new(None, false, 1, std::slice::from_ref(&d)));
            validate(&body).unwrap();
            let mut texts = vec![body["text"].as_str().unwrap().to_string()];
            for b in body["blocks"].as_array().unwrap() {
                // The header is plain_text: not escaped, nothing to split.
                if let Some(t) = b["text"]["text"].as_str()
                    && b["text"]["type"] == "mrkdwn"
                {
                    texts.push(t.to_string());
                }
            }
            for t in texts {
                assert!(entities_whole(&t), "a split entity in: {t}");
            }
        }
    }
}
