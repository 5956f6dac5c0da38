//! Runs every rule over the evidence and turns the findings into a [`Diagnosis`]: the
//! verdict by the fixed precedence of CONTRACT.md section 7, the findings verdict first,
//! what CXone was asked, and the contact's timeline.
//!
//! A diagnosis always has a verdict. When no rule fires, the verdict is HD402 with a
//! message saying which data would name the cause: typically CXone was not configured and
//! the payload shows no bot-side problem (the signal was accepted), so only CXone could
//! tell. Such a fallback finding carries `"fallback": true` in its evidence and is never
//! re-checked.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::codes::Code;
use super::evidence::{CxoneEvidence, Evidence, Lookup};
use super::model::{CxoneCheck, Diagnosis, Finding, Severity, Source, TimelineEntry, Verdict};
use super::rules::{self, support};
use super::signal::SignalResult;

/// The verdict precedence of CONTRACT.md section 7: HD401 whenever found, then bot side,
/// wrong target, target skill, routing, caller, incomplete data, and HD109 last. Findings
/// are listed in this order too.
pub const PRECEDENCE: [Code; 28] = [
    Code::Hd401,
    Code::Hd101,
    Code::Hd102,
    Code::Hd103,
    Code::Hd104,
    Code::Hd105,
    Code::Hd106,
    Code::Hd107,
    Code::Hd108,
    Code::Hd110,
    Code::Hd202,
    Code::Hd301,
    Code::Hd302,
    Code::Hd306,
    Code::Hd305,
    Code::Hd303,
    Code::Hd304,
    Code::Hd207,
    Code::Hd206,
    Code::Hd204,
    Code::Hd203,
    Code::Hd205,
    Code::Hd501,
    Code::Hd502,
    Code::Hd503,
    Code::Hd201,
    Code::Hd402,
    Code::Hd109,
];

/// How long after the handover request a contact-not-found is still worth re-checking:
/// CXone's reporting can lag the call by minutes (`shared/domain/cxone.md` section 3.9).
pub const NOT_FOUND_RECHECK_WINDOW_SECS: i64 = 30 * 60;

fn rank(code: Code) -> usize {
    PRECEDENCE
        .iter()
        .position(|c| *c == code)
        .expect("every code has a place in the precedence")
}

/// Diagnoses one failed handover. Pure: everything it needs is in `ev`, including "now".
pub fn diagnose(ev: &Evidence) -> Diagnosis {
    let mut findings: Vec<Finding> = rules::RULES.iter().filter_map(|r| (r.check)(ev)).collect();
    let fallback = findings.is_empty();
    if fallback {
        findings.push(fallback_finding(ev));
    }
    findings.sort_by_key(|f| rank(f.code));
    let code = findings[0].code;
    let title = if fallback {
        if matches!(ev.cxone, CxoneEvidence::Checked(_)) {
            "No cause found in the payload or in CXone's data"
        } else {
            "CXone was not checked, and the payload shows no bot-side cause"
        }
    } else {
        rules::entry(code).title
    };
    let (event_id, conversation_id) = match &ev.event {
        Some(e) => (e.event_id.clone(), e.conversation_id.clone()),
        None => (
            format!(
                "scan:{}",
                support::contact_id(ev).unwrap_or_else(|| "unknown".into())
            ),
            String::new(),
        ),
    };
    Diagnosis {
        event_id,
        conversation_id,
        contact_id: support::contact_id(ev),
        target_skill: support::target_skill_label(ev),
        verdict: Verdict {
            code,
            name: code.name().to_string(),
            title: title.to_string(),
        },
        findings,
        cxone: cxone_check(ev),
        timeline: timeline(ev),
        diagnosed_at: ev.now,
    }
}

/// True when the verdict could still change on a later look at CXone: the contact's data
/// was pending (HD402) or the contact was not found (HD201, within
/// [`NOT_FOUND_RECHECK_WINDOW_SECS`] of the request). False when CXone was not checked,
/// when a bot-side cause or a wrong contact is certain, and when an agent took the call.
pub fn needs_recheck(d: &Diagnosis) -> bool {
    if !d.cxone.checked {
        return false;
    }
    let certain = rank(d.verdict.code) <= rank(Code::Hd202);
    if certain {
        return false;
    }
    let pending = d
        .findings
        .iter()
        .any(|f| f.code == Code::Hd402 && f.evidence.get("fallback").is_none());
    let not_found_recently = d.findings.iter().any(|f| {
        f.code == Code::Hd201
            && f.evidence
                .get("secondsSinceRequest")
                .and_then(serde_json::Value::as_i64)
                .is_none_or(|s| s < NOT_FOUND_RECHECK_WINDOW_SECS)
    });
    pending || not_found_recently
}

fn fallback_finding(ev: &Evidence) -> Finding {
    let contact = support::contact_id(ev);
    let bot = match support::signal_result(ev) {
        Some(SignalResult::Signaled { .. }) => format!(
            "the bot's signal was accepted by CXone{}",
            contact
                .as_deref()
                .map(|c| format!(" for contact {c}"))
                .unwrap_or_default()
        ),
        _ if ev.event.is_some() => "the payload reports no error".to_string(),
        _ => "there is no webhook event".to_string(),
    };
    let (message, fix) = match &ev.cxone {
        CxoneEvidence::Checked(_) => (
            format!(
                "No rule found a cause: {bot}, and CXone's data for {} shows nothing that explains a failed handover.",
                contact.as_deref().unwrap_or("the contact")
            ),
            "Look at the contact in CXone (Studio trace, contact history) and at the session in Cognigy's logs; if this pattern recurs, report it so a rule can be added.",
        ),
        _ => (
            format!(
                "CXone was not checked (no CXone credentials are configured), and {bot}: the cause lies on the CXone side (routing, skill, agents, hours or the caller), which only CXone's data can tell."
            ),
            "Configure CXONE_CLIENT_ID, CXONE_CLIENT_SECRET, CXONE_ACCESS_KEY_ID and CXONE_ACCESS_KEY_SECRET so handover-doctor can read the contact, or look the contact up in CXone.",
        ),
    };
    support::finding(
        Code::Hd402,
        Severity::Info,
        message,
        fix,
        json!({ "fallback": true, "contactId": contact }),
    )
}

fn cxone_check(ev: &Evidence) -> CxoneCheck {
    match &ev.cxone {
        CxoneEvidence::NotConfigured => CxoneCheck {
            checked: false,
            error: Some(
                "CXone is not configured (no CXONE_CLIENT_ID / CXONE_ACCESS_KEY_ID): the diagnosis uses the payload only".into(),
            ),
        },
        CxoneEvidence::Unreachable(p) => CxoneCheck {
            checked: false,
            error: Some(format!("{}: {}", p.what, support::clip(&p.detail, 300))),
        },
        CxoneEvidence::Checked(f) => {
            let failed = [
                problem(&f.contact),
                problem(&f.states),
                problem(&f.hierarchy),
                problem(&f.skill),
                problem(&f.skill_agents),
                problem(&f.skill_activity),
                problem(&f.hours),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
            CxoneCheck {
                checked: true,
                error: (!failed.is_empty()).then(|| failed.join("; ")),
            }
        }
    }
}

fn problem<T>(l: &Lookup<T>) -> Option<String> {
    match l {
        Lookup::Failed(p) => Some(format!("{}: {}", p.what, support::clip(&p.detail, 200))),
        _ => None,
    }
}

fn entry(at: DateTime<Utc>, source: Source, event: &str, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        source,
        event: event.to_string(),
        detail,
    }
}

fn timeline(ev: &Evidence) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    if let Some(c) = ev.contact()
        && let Some(start) = c.contact_start_date
    {
        let mut parts = Vec::new();
        if let Some(m) = &c.media_type_name {
            parts.push(m.clone());
        }
        if let Some(p) = &c.point_of_contact_name {
            parts.push(format!("via {p}"));
        }
        if let Some(from) = &c.from_address {
            parts.push(format!("from {}", support::mask_number(from)));
        }
        out.push(entry(
            start,
            Source::Cxone,
            "ContactStarted",
            parts.join(", "),
        ));
    }
    for s in ev.states() {
        let Some(at) = s.start_date else { continue };
        let mut parts = Vec::new();
        if let Some(skill) = s.skill_name.as_ref().or(s.skill_id.as_ref()) {
            parts.push(format!("skill {skill}"));
        }
        if let Some(agent) = &s.agent_id {
            parts.push(format!("agent {agent}"));
        }
        if let Some(d) = s.duration {
            parts.push(support::secs(d));
        }
        let name = s.contact_state_name.as_deref().unwrap_or("State");
        out.push(entry(at, Source::Cxone, name, parts.join(", ")));
    }
    if let Some(end) = support::contact_end(ev) {
        let detail = ev
            .contact()
            .and_then(|c| c.end_reason.clone())
            .unwrap_or_default();
        out.push(entry(end, Source::Cxone, "ContactEnded", detail));
    }
    if let Some(at) = ev.event.as_ref().and_then(|e| e.occurred_at) {
        let (name, detail) = bot_report(ev);
        out.push(entry(at, Source::Cognigy, name, detail));
    }
    // Stable: at equal times CXone's own order (and the bot's report last) is kept.
    out.sort_by_key(|t| t.at);
    out
}

/// What the bot reported, as a timeline event name and detail.
fn bot_report(ev: &Evidence) -> (&'static str, String) {
    let Some(e) = &ev.event else {
        return ("HandoverReported", String::new());
    };
    if let Some(voice_event) = &e.voice.event {
        let status = e
            .voice
            .refer_status
            .or(e.voice.dial_sip_status)
            .or(e.voice.sip_status)
            .map(|s| format!(" (SIP {s})"))
            .unwrap_or_default();
        return ("VoiceEvent", format!("{voice_event}{status}"));
    }
    if let Some(result) = e.handover.signal_result.as_deref() {
        let name = match support::signal_result(ev) {
            Some(SignalResult::Signaled { .. }) => "SignalAccepted",
            Some(SignalResult::Failed(_)) => "SignalFailed",
            None => "HandoverReported",
        };
        return (name, support::clip(result, 300));
    }
    if let Some(status) = &e.handover.provider_status {
        let reason = e
            .handover
            .provider_error_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return ("HandoverProvider", format!("status {status}{reason}"));
    }
    if let Some(err) = e
        .handover
        .extension_error
        .as_ref()
        .or(e.handover.code_error.as_ref())
    {
        return ("FlowError", support::clip(err, 300));
    }
    (
        "HandoverReported",
        e.handover
            .requested_action
            .as_deref()
            .map(|a| format!("action {a}"))
            .unwrap_or_default(),
    )
}
