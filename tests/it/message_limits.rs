//! Every message shape we render, held against the rules of the service that shows it:
//! Teams cards against the official Adaptive Card 1.4 JSON schema (vendored in
//! `tests/schemas/`, see its README) and under the 20 KiB request cap, Slack messages
//! against Block Kit's published limits (notify-and-webhooks.md §1.2), checked here
//! independently of `slack::validate`.

use handover_doctor::diagnosis::Code;
use handover_doctor::diagnosis::model::Diagnosis;
use handover_doctor::notify::{Report, slack, teams};
use serde_json::{Value, json};

fn fixture() -> Diagnosis {
    let p = format!(
        "{}/fixtures/notify/diagnosis_hd303.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The fixture diagnosis with verdict `code` and conversation `conv`.
fn diagnosis(code: Code, conv: &str) -> Diagnosis {
    let mut d = fixture();
    d.event_id = format!("evt-{conv}");
    d.conversation_id = conv.to_string();
    d.verdict.code = code;
    d.verdict.name = code.name().to_string();
    d.findings[0].code = code;
    d.findings[0].name = code.name().to_string();
    d
}

/// Text that costs the most once escaped and serialised, and that would be markup in
/// Slack and Teams if it were not escaped.
fn nasty(chars: usize) -> String {
    "\\`*_~[a](http://x) <!channel> & \"\u{1F4DE}\u{7}\n- 1. "
        .chars()
        .cycle()
        .take(chars)
        .collect()
}

fn single_diagnosis() -> Diagnosis {
    diagnosis(Code::Hd303, "b6f1c2d4-1e2f-4a5b-9c8d-0123456789ab")
}

fn single() -> Report {
    Report::new(
        Some("Support_Voice_EN".into()),
        false,
        1,
        &[single_diagnosis()],
    )
}

/// Every shape: (name, report).
fn renderings() -> Vec<(&'static str, Report)> {
    let skill = Some("Support_Voice_EN".to_string());
    let one = single_diagnosis();
    let group: Vec<Diagnosis> = (0..25)
        .map(|i| diagnosis(Code::Hd303, &format!("conv-{i:02}")))
        .collect();

    let mut storm = Vec::new();
    let codes = [
        Code::Hd108,
        Code::Hd303,
        Code::Hd304,
        Code::Hd305,
        Code::Hd205,
    ];
    for i in 0..500 {
        let mut d = diagnosis(Code::Hd108, &format!("conv-{i:04}-{}", "z".repeat(60)));
        d.contact_id = Some(format!("7455{i:08}"));
        d.findings[0].code = codes[i % codes.len()];
        d.findings[0].message = format!("call {i}: {}", "the SBC offered no codec. ".repeat(60));
        storm.push(d);
    }

    let huge = nasty(8_000);
    let mut free_text = diagnosis(Code::Hd105, "conv-free-text");
    free_text.verdict.title = huge.clone();
    free_text.cxone.checked = false;
    free_text.cxone.error = Some(huge.clone());
    for f in &mut free_text.findings {
        f.message = huge.clone();
        f.fix = huge.clone();
    }
    for j in 0..40 {
        let mut f = free_text.findings[0].clone();
        f.message = format!("{j} {huge}");
        free_text.findings.push(f);
    }

    let long_ids: Vec<Diagnosis> = (0..12)
        .map(|i| {
            let mut d = diagnosis(Code::Hd203, &format!("{i}{}", nasty(5_000)));
            d.contact_id = Some(nasty(5_000));
            d.verdict.name = nasty(5_000);
            d.findings[0].name = nasty(5_000);
            d
        })
        .collect();

    let mut good = diagnosis(Code::Hd401, "conv-ok");
    good.cxone.checked = false;
    good.cxone.error = Some("CXone answered 503 three times".into());

    vec![
        ("single", single()),
        ("single without skill", Report::new(None, false, 1, &[one])),
        ("group", Report::new(skill.clone(), false, 25, &group)),
        ("update", Report::new(skill.clone(), true, 40, &group[..3])),
        (
            "500-diagnosis group",
            Report::new(skill, false, 500, &storm),
        ),
        ("huge free text", Report::new(None, false, 1, &[free_text])),
        (
            "long ids and names, one",
            Report::new(Some(nasty(5_000)), false, 1, &long_ids[..1]),
        ),
        (
            "long ids and names, group",
            Report::new(Some(nasty(5_000)), true, 99, &long_ids),
        ),
        ("handover succeeded", Report::new(None, false, 1, &[good])),
    ]
}

/// The Adaptive Card 1.4 schema as published, or with the `msteams` property Teams
/// reads (`{"width": "full"}`) allowed on the card.
fn card_schema(allow_msteams: bool) -> (boon::Schemas, boon::SchemaIndex) {
    let path = format!(
        "{}/tests/schemas/adaptive-card-1.4.0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-06/schema#");
    if allow_msteams {
        schema["definitions"]["AdaptiveCard"]["properties"]["msteams"] = json!({
            "type": "object",
            "properties": {"width": {"type": "string"}}
        });
    }
    let url = "http://adaptivecards.io/schemas/adaptive-card.json";
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(url, schema).unwrap();
    let index = compiler.compile(url, &mut schemas).unwrap();
    (schemas, index)
}

#[test]
fn every_teams_card_is_a_valid_adaptive_card_1_4_under_20_kib() {
    let (schemas, card) = card_schema(true);
    for (name, report) in renderings() {
        let body = teams::render(&report);
        let bytes = serde_json::to_vec(&body).unwrap().len();
        assert!(bytes <= 20 * 1024, "{name}: {bytes} bytes");
        assert_eq!(body["type"], "message", "{name}");
        let attachments = body["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1, "{name}");
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let content = &attachments[0]["content"];
        assert_eq!(content["version"], "1.4", "{name}");
        if let Err(e) = schemas.validate(content, card) {
            panic!("{name}: not a valid Adaptive Card 1.4: {e:#}\n{content:#}");
        }
    }
}

#[test]
fn the_schema_check_can_fail() {
    // As published, the schema refuses the `msteams` property every card of ours has:
    // proof that the validator reads the schema rather than accepting anything.
    let (published, card) = card_schema(false);
    let body = teams::render(&single());
    let content = &body["attachments"][0]["content"];
    assert!(published.validate(content, card).is_err());
    // With `msteams` allowed, a misspelt property is still refused.
    let (schemas, card) = card_schema(true);
    let mut broken = content.clone();
    broken["body"][0]["colour"] = json!("Attention");
    assert!(schemas.validate(&broken, card).is_err());
    broken = content.clone();
    broken["body"][0]["size"] = json!("Huge");
    assert!(schemas.validate(&broken, card).is_err());
}

/// Block Kit's limits for what we send (notify-and-webhooks.md §1.2); the error names
/// the first one broken.
fn block_kit_problem(body: &Value) -> Option<String> {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let text = &body["text"];
    if !(1..=40_000).contains(&chars(text)) {
        return Some(format!("top-level text of {} characters", chars(text)));
    }
    let blocks = body["blocks"].as_array()?;
    if blocks.is_empty() || blocks.len() > 50 {
        return Some(format!("{} blocks", blocks.len()));
    }
    let text_object = |t: &Value, max: usize, what: &str| -> Option<String> {
        let kind = t["type"].as_str();
        if kind != Some("mrkdwn") && kind != Some("plain_text") {
            return Some(format!("{what}: text object of type {kind:?}"));
        }
        let n = chars(&t["text"]);
        (!(1..=max).contains(&n)).then(|| format!("{what}: {n} characters (1..={max})"))
    };
    for b in blocks {
        if chars(&b["block_id"]) > 255 {
            return Some("block_id over 255 characters".into());
        }
        let problem = match b["type"].as_str() {
            Some("header") => {
                if b["text"]["type"] != "plain_text" {
                    return Some("header text is not plain_text".into());
                }
                text_object(&b["text"], 150, "header")
            }
            Some("section") => match b["fields"].as_array() {
                Some(fields) if fields.is_empty() || fields.len() > 10 => {
                    Some(format!("section with {} fields", fields.len()))
                }
                Some(fields) => fields
                    .iter()
                    .find_map(|f| text_object(f, 2000, "section field")),
                None => text_object(&b["text"], 3000, "section"),
            },
            Some("context") => match b["elements"].as_array() {
                Some(els) if !els.is_empty() && els.len() <= 10 => els
                    .iter()
                    .find_map(|e| text_object(e, 3000, "context element")),
                _ => Some("context with no or more than 10 elements".into()),
            },
            Some("divider") => None,
            other => Some(format!("unexpected block {other:?}")),
        };
        if problem.is_some() {
            return problem;
        }
    }
    None
}

/// Characters of every `text` string under `v`.
fn block_text_chars(v: &Value) -> usize {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("text", Value::String(s)) => s.chars().count(),
                _ => block_text_chars(v),
            })
            .sum(),
        Value::Array(a) => a.iter().map(block_text_chars).sum(),
        _ => 0,
    }
}

#[test]
fn every_slack_message_keeps_block_kit_limits() {
    for (name, report) in renderings() {
        let body = slack::render(&report);
        if let Some(problem) = block_kit_problem(&body) {
            panic!("{name}: {problem}\n{body:#}");
        }
        slack::validate(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The blocks' text in all stays below where Slack was seen refusing messages
        // (`msg_blocks_too_long` around 13,000 characters).
        let total = block_text_chars(&body["blocks"]);
        assert!(total <= 12_000, "{name}: {total} characters of block text");
    }
}

#[test]
fn the_block_kit_check_can_fail() {
    let good = slack::render(&single());
    assert_eq!(block_kit_problem(&good), None);
    let mut broken = good.clone();
    broken["blocks"][0]["text"]["text"] = json!("h".repeat(151));
    assert!(block_kit_problem(&broken).unwrap().contains("header"));
    broken = good.clone();
    broken["blocks"][1]["text"]["text"] = json!("");
    assert!(block_kit_problem(&broken).is_some());
    broken = good;
    let blocks = broken["blocks"].as_array().unwrap().clone();
    broken["blocks"] = json!(blocks.iter().cycle().take(51).collect::<Vec<_>>());
    assert_eq!(block_kit_problem(&broken).unwrap(), "51 blocks");
}
