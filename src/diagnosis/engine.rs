//! Runs every rule over the evidence and turns the findings into a [`Diagnosis`]: the
//! verdict by the fixed precedence of CONTRACT.md section 7, the findings verdict first,
//! what CXone was asked, and the contact's timeline.
//!
//! The skill's live activity is evidence only when it was read close to the failure
//! ([`LIVE_ACTIVITY_MAX_AGE`](super::rules::support::LIVE_ACTIVITY_MAX_AGE) after the
//! contact's end): the rules read it through `support::live_activity`, so every path — a
//! webhook, a worker re-check, a scan event, the `scan` command, `diagnose --contact-id` —
//! judges staffing the same way, and the timeline says when it was set aside
//! (`LiveStaffingNotJudged`).
//!
//! A diagnosis always has a verdict. When no rule fires, the verdict is HD402 with a
//! message saying which data would name the cause: typically CXone was not configured and
//! the payload shows no bot-side problem (the signal was accepted), so only CXone could
//! tell. Such a fallback finding carries `"fallback": true` in its evidence and is never
//! re-checked.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::codes::Code;
use super::evidence::{CxoneEvidence, Evidence};
use super::model::{CxoneCheck, Diagnosis, Finding, Severity, Source, TimelineEntry, Verdict};
use super::rules::{self, support};
use super::signal::SignalResult;

/// The verdict precedence of CONTRACT.md section 7: HD401 whenever found, then bot side,
/// wrong target, target skill, routing, caller, incomplete data, and HD109 and HD112 last. Findings
/// are listed in this order too.
pub const PRECEDENCE: [Code; 30] = [
    Code::Hd401,
    Code::Hd101,
    Code::Hd102,
    Code::Hd111,
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
    Code::Hd112,
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
        if support::end_accepted(ev) {
            "The bot ended the contact (signalled End) instead of escalating it"
        } else if matches!(ev.cxone, CxoneEvidence::Checked(_)) {
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
        master_contact_id: master_contact_id(ev),
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

/// The master contact: CXone's own record first (the event's may be the wrong one), else
/// the event's; never the placeholder.
fn master_contact_id(ev: &Evidence) -> Option<String> {
    ev.contact()
        .and_then(|c| c.master_contact_id.clone())
        .or_else(|| ev.event.as_ref()?.cxone.master_contact_id.clone())
        .filter(|id| support::is_real_id(id))
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
    if support::end_accepted(ev) {
        // Not a failed handover but no handover at all: the flow chose to end the call.
        return support::finding(
            Code::Hd402,
            Severity::Info,
            format!(
                "The bot signalled 'End' to CXone{}, not 'Escalate': it asked CXone to end the contact rather than to hand it to an agent, so no handover was requested{}.",
                contact
                    .as_deref()
                    .map(|c| format!(" for contact {c}"))
                    .unwrap_or_default(),
                match &ev.cxone {
                    CxoneEvidence::Checked(_) => String::new(),
                    _ => " (CXone was not checked)".to_string(),
                }
            ),
            "In the Cognigy flow, check the path that reached the Exit Interaction node whose Exit Action is End (a caller asking for an agent should reach one set to Escalate), and send the handover-failure webhook only on an escalation.",
            json!({ "fallback": true, "contactId": contact, "action": "End" }),
        );
    }
    let bot = match support::signal_result(ev) {
        Some(SignalResult::Signaled { .. }) => format!(
            "the bot's signal was accepted by CXone{}",
            contact
                .as_deref()
                .map(|c| format!(" for contact {c}"))
                .unwrap_or_default()
        ),
        _ if ev.event.is_some() => {
            "the payload reports no error (and no signalResult saying whether CXone accepted a signal)"
                .to_string()
        }
        _ => "there is no webhook event".to_string(),
    };
    let (message, fix) = match &ev.cxone {
        CxoneEvidence::Checked(_) => (
            format!(
                "No rule found a cause: {bot}, and CXone shows {}; nothing there explains a failed handover.",
                cxone_summary(ev, contact.as_deref().unwrap_or("the contact"))
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

/// One phrase on what CXone knows of the contact, for the fallback finding.
fn cxone_summary(ev: &Evidence, id: &str) -> String {
    let Some(c) = ev.contact() else {
        return format!("no data for contact {id}");
    };
    let queued = match support::reached_queue(ev) {
        Some(true) => "reached a queue",
        Some(false) => "never reached a queue",
        None => "may or may not have reached a queue",
    };
    match support::contact_end(ev) {
        Some(end) => format!(
            "that contact {id} {queued}, was not taken by an agent, and ended at {}{}",
            support::hms(end),
            c.end_reason
                .as_deref()
                .map(|r| format!(" (\"{r}\")"))
                .unwrap_or_default()
        ),
        None => format!("that contact {id} {queued} and has not been taken by an agent"),
    }
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
            let failed = f
                .problems()
                .into_iter()
                .map(|p| format!("{}: {}", p.what, support::clip(&p.detail, 200)))
                .collect::<Vec<_>>();
            CxoneCheck {
                checked: true,
                error: (!failed.is_empty()).then(|| failed.join("; ")),
            }
        }
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
        if let Some(d) = s.duration.filter(|d| *d > 0.0) {
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
    // The skill's live activity was read, but too long after the failure to say anything
    // about it: the reader learns why staffing (HD303/HD304) was not judged.
    if let Some(note) = support::live_activity_not_judged(ev) {
        out.push(entry(ev.now, Source::Cxone, "LiveStaffingNotJudged", note));
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
        // After an accepted REFER the status that tells is the target's final one.
        let status = match e.voice.final_referred_call_status {
            Some(target) => format!(" (REFER accepted, the target answered SIP {target})"),
            None => e
                .voice
                .refer_status
                .or(e.voice.dial_sip_status)
                .or(e.voice.sip_status)
                .map(|s| format!(" (SIP {s})"))
                .unwrap_or_default(),
        };
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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::cxone::types::{Contact, ContactState};
    use crate::diagnosis::evidence::{CxoneFacts, Lookup};
    use crate::diagnosis::report::render_text;
    use crate::event::HandoverEvent;

    const T: &str = "2026-05-12T14:26:58Z";

    fn at(offset_secs: i64) -> DateTime<Utc> {
        T.parse::<DateTime<Utc>>().unwrap() + Duration::seconds(offset_secs)
    }

    fn event(signal_result: &str, context: &str) -> HandoverEvent {
        HandoverEvent::parse(
            format!(
                r#"{{"conversationId":"conv-1","occurredAt":"{T}",
                    "flow":{{"channel":"voiceGateway2"}},
                    "cxone":{{"masterContactId":"745512890101","contactId":"745512890123"}},
                    "handover":{{"mechanism":"cxone_signal","targetSkill":"Support_Voice_EN","signalResult":"{signal_result}"}},
                    "context":{context}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    const ACCEPTED: &str = "Signaled CXone with: 'Escalate' for contactId: 745512890123";
    const FORBIDDEN: &str = "Error signaling CXone with: 'Escalate' for contactId: 745512890123; error: CXone API Client: Error sending handover signal: 403: Forbidden";
    const FULL_CONTEXT: &str = r#"{"routingData":{"a":"1"},"customerInfo":{"b":"2"}}"#;

    fn evidence(event: HandoverEvent, cxone: CxoneEvidence, now: DateTime<Utc>) -> Evidence {
        Evidence {
            contact_id: event.real_contact_id().map(str::to_string),
            event: Some(event),
            cxone,
            required_context_keys: vec!["routingData".into(), "customerInfo".into()],
            now,
        }
    }

    fn state(name: &str, start: DateTime<Utc>, agent: Option<&str>) -> ContactState {
        ContactState {
            contact_state_name: Some(name.into()),
            start_date: Some(start),
            agent_id: agent.map(str::to_string),
            ..ContactState::default()
        }
    }

    /// A completed contact that started at T-300 s and stayed in pre-queue until it ended
    /// `end_after` seconds after the handover request.
    fn ended_in_prequeue(end_after: i64) -> CxoneEvidence {
        let start = at(-300);
        let contact = Contact {
            contact_id: Some("745512890123".into()),
            contact_start_date: Some(start),
            from_address: Some("+1 415 555 0123".into()),
            total_duration_seconds: Some((300 + end_after) as f64),
            pre_queue_seconds: Some((300 + end_after) as f64),
            in_queue_seconds: Some(0.0),
            is_warehoused: Some(true),
            ..Contact::default()
        };
        CxoneEvidence::Checked(Box::new(CxoneFacts {
            contact: Lookup::Found(contact),
            states: Lookup::Found(vec![
                state("PreQueue", start, None),
                state("Released", at(end_after), None),
            ]),
            still_active: Lookup::Found(false),
            ..CxoneFacts::default()
        }))
    }

    fn live_in_prequeue() -> CxoneEvidence {
        CxoneEvidence::Checked(Box::new(CxoneFacts {
            contact: Lookup::Found(Contact {
                contact_id: Some("745512890123".into()),
                contact_start_date: Some(at(-300)),
                state_name: Some("PreQueue".into()),
                is_active: Some(true),
                ..Contact::default()
            }),
            states: Lookup::Found(vec![state("PreQueue", at(-300), None)]),
            still_active: Lookup::Found(true),
            ..CxoneFacts::default()
        }))
    }

    fn codes(d: &Diagnosis) -> Vec<Code> {
        d.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_signal_result_no_extension_writes_is_named_last_and_kept_verbatim() {
        let d = diagnose(&evidence(
            event("Handover done", FULL_CONTEXT),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(codes(&d), vec![Code::Hd112]);
        assert_eq!(d.findings[0].evidence["signalResult"], "Handover done");
        // Beside a cause, it never takes the verdict.
        let d = diagnose(&evidence(
            event("[object Object]", "{}"),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(codes(&d), vec![Code::Hd109, Code::Hd112]);
    }

    #[test]
    fn the_object_result_of_v1_0_18_reads_like_the_strings() {
        let accepted = HandoverEvent::parse(
            br#"{"conversationId":"c","cxone":{"contactId":"745512890123"},
                "handover":{"signalResult":{"success":true,"action":"Escalate","contactId":"745512890123","status":202}}}"#,
        )
        .unwrap();
        let d = diagnose(&evidence(accepted, live_in_prequeue(), at(60)));
        assert!(!d.has(Code::Hd112), "{:?}", codes(&d));
        let refused = HandoverEvent::parse(
            br#"{"conversationId":"c","handover":{"signalResult":{"success":false,"action":"Escalate","contactId":"745512890123","error":"CXone -> sendSignalHandover: Error sending signal: 400: Bad Request"}}}"#,
        )
        .unwrap();
        let d = diagnose(&evidence(refused, CxoneEvidence::NotConfigured, at(60)));
        assert_eq!(d.verdict.code, Code::Hd105, "{:?}", codes(&d));
        assert!(!d.has(Code::Hd101), "a signal error proves the ids");
    }

    #[test]
    fn the_precedence_lists_every_code_once() {
        let mut sorted = PRECEDENCE.to_vec();
        sorted.sort();
        assert_eq!(sorted, Code::ALL.to_vec());
        assert_eq!(PRECEDENCE[0], Code::Hd401);
        assert_eq!(PRECEDENCE[29], Code::Hd112);
    }

    #[test]
    fn a_bot_side_cause_outranks_a_missing_context_and_findings_follow_the_precedence() {
        let d = diagnose(&evidence(
            event(FORBIDDEN, "{}"),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(d.verdict.code, Code::Hd104);
        assert_eq!(codes(&d), vec![Code::Hd104, Code::Hd109]);
        assert_eq!(d.verdict.title, rules::entry(Code::Hd104).title);
    }

    #[test]
    fn an_agent_taking_the_call_wins_over_everything_else_found() {
        let facts = CxoneFacts {
            contact: Lookup::Found(Contact {
                contact_id: Some("745512890123".into()),
                agent_id: Some("2301554".into()),
                agent_seconds: Some(120.0),
                in_queue_seconds: Some(38.0),
                total_duration_seconds: Some(500.0),
                contact_start_date: Some(at(-300)),
                is_warehoused: Some(true),
                ..Contact::default()
            }),
            still_active: Lookup::Found(false),
            ..CxoneFacts::default()
        };
        let d = diagnose(&evidence(
            event(FORBIDDEN, "{}"),
            CxoneEvidence::Checked(Box::new(facts)),
            at(900),
        ));
        assert_eq!(d.verdict.code, Code::Hd401);
        assert_eq!(codes(&d), vec![Code::Hd401, Code::Hd104, Code::Hd109]);
        assert!(
            d.findings[0].message.contains("38 s in queue"),
            "{}",
            d.findings[0].message
        );
        assert!(!needs_recheck(&d));
    }

    #[test]
    fn a_contact_ending_within_ten_seconds_of_the_request_is_a_hang_up() {
        for end_after in [-30, 0, 9, 10] {
            let d = diagnose(&evidence(
                event(ACCEPTED, FULL_CONTEXT),
                ended_in_prequeue(end_after),
                at(600),
            ));
            assert_eq!(d.verdict.code, Code::Hd203, "ended {end_after} s after");
            assert!(!d.has(Code::Hd204));
        }
    }

    #[test]
    fn a_contact_still_in_pre_queue_after_ten_seconds_was_not_routed() {
        for end_after in [11, 72, 600] {
            let d = diagnose(&evidence(
                event(ACCEPTED, FULL_CONTEXT),
                ended_in_prequeue(end_after),
                at(900),
            ));
            assert_eq!(d.verdict.code, Code::Hd204, "ended {end_after} s after");
            assert!(!d.has(Code::Hd203));
        }
    }

    #[test]
    fn a_live_contact_in_pre_queue_is_pending_first_and_not_routed_after_ten_seconds() {
        let early = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            live_in_prequeue(),
            at(5),
        ));
        assert_eq!(codes(&early), vec![Code::Hd402]);
        assert!(needs_recheck(&early));

        let late = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            live_in_prequeue(),
            at(40),
        ));
        assert_eq!(codes(&late), vec![Code::Hd204, Code::Hd402]);
        assert!(
            late.findings[0]
                .message
                .contains("still in pre-queue 40 s later")
        );
        assert!(needs_recheck(&late), "the contact may yet be queued");
    }

    #[test]
    fn a_refused_signal_is_certain_even_while_cxone_data_is_pending() {
        let d = diagnose(&evidence(
            event(FORBIDDEN, FULL_CONTEXT),
            live_in_prequeue(),
            at(5),
        ));
        assert_eq!(codes(&d), vec![Code::Hd104, Code::Hd402]);
        assert!(!needs_recheck(&d));
    }

    #[test]
    fn contact_not_found_is_rechecked_only_while_reporting_may_still_lag() {
        let facts = || {
            CxoneEvidence::Checked(Box::new(CxoneFacts {
                contact: Lookup::NotFound,
                states: Lookup::NotFound,
                still_active: Lookup::Found(false),
                ..CxoneFacts::default()
            }))
        };
        let recent = diagnose(&evidence(event(ACCEPTED, FULL_CONTEXT), facts(), at(120)));
        assert_eq!(recent.verdict.code, Code::Hd201);
        assert!(needs_recheck(&recent));
        let old = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            facts(),
            at(NOT_FOUND_RECHECK_WINDOW_SECS + 60),
        ));
        assert_eq!(old.verdict.code, Code::Hd201);
        assert!(!needs_recheck(&old));
    }

    #[test]
    fn without_cxone_and_without_a_bot_side_cause_the_verdict_says_what_is_missing() {
        let d = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(d.verdict.code, Code::Hd402);
        assert!(d.verdict.title.contains("not checked"));
        assert_eq!(d.findings[0].evidence["fallback"], json!(true));
        assert!(d.findings[0].message.contains("745512890123"));
        assert_eq!(
            d.cxone,
            CxoneCheck {
                checked: false,
                error: d.cxone.error.clone()
            }
        );
        assert!(d.cxone.error.is_some());
        assert!(!needs_recheck(&d));
    }

    #[test]
    fn an_unreachable_cxone_gives_hd5xx_instead_of_failing() {
        let problem = crate::diagnosis::evidence::CxoneProblem {
            kind: crate::diagnosis::evidence::ProblemKind::AuthFailed,
            what: "POST /auth/token".into(),
            detail: "the token endpoint answered 401".into(),
        };
        let d = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            CxoneEvidence::Unreachable(problem),
            at(60),
        ));
        assert_eq!(codes(&d), vec![Code::Hd501]);
        assert!(!d.cxone.checked);
        assert!(d.cxone.error.as_deref().unwrap().contains("401"));
    }

    #[test]
    fn the_diagnosis_carries_ids_skill_and_a_masked_timeline() {
        let d = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            ended_in_prequeue(72),
            at(900),
        ));
        assert_eq!(d.conversation_id, "conv-1");
        assert_eq!(d.contact_id.as_deref(), Some("745512890123"));
        assert_eq!(d.target_skill.as_deref(), Some("Support_Voice_EN"));
        assert_eq!(d.diagnosed_at, at(900));
        let events: Vec<&str> = d.timeline.iter().map(|t| t.event.as_str()).collect();
        assert_eq!(
            events,
            vec![
                "ContactStarted",
                "PreQueue",
                "SignalAccepted",
                "Released",
                "ContactEnded"
            ]
        );
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains("•••0123"));
        assert!(!json.contains("555 0123") && !json.contains("5550123"));
    }

    #[test]
    fn a_scanned_contact_without_an_event_is_named_after_its_contact() {
        let ev = Evidence {
            event: None,
            contact_id: Some("745512890123".into()),
            cxone: ended_in_prequeue(72),
            required_context_keys: vec!["routingData".into()],
            now: at(900),
        };
        let d = diagnose(&ev);
        assert_eq!(d.event_id, "scan:745512890123");
        assert!(!d.has(Code::Hd109), "no event, no context to miss");
    }

    #[test]
    fn the_text_report_reads_verdict_findings_then_timeline() {
        let d = diagnose(&evidence(
            event(FORBIDDEN, "{}"),
            ended_in_prequeue(72),
            at(900),
        ));
        let text = render_text(&d);
        assert!(text.starts_with("HD104 signal-forbidden: "), "{text}");
        let findings = text.find("Findings:").unwrap();
        let fix = text.find("Fix: ").unwrap();
        let timeline = text.find("Timeline:").unwrap();
        assert!(findings < fix && fix < timeline, "{text}");
        assert!(text.contains("HD109 missing-context (warning)"));
        assert!(!text.contains("5550123"));
    }

    #[test]
    fn with_cxone_but_no_cause_the_fallback_describes_the_contact() {
        // The flow sent no signalResult, so HD204 cannot claim the signal was accepted.
        let d = diagnose(&evidence(
            event("", FULL_CONTEXT),
            ended_in_prequeue(72),
            at(900),
        ));
        assert_eq!(codes(&d), vec![Code::Hd402]);
        let message = &d.findings[0].message;
        assert!(message.contains("never reached a queue"), "{message}");
        assert!(d.verdict.title.contains("No cause found"));
        assert!(!needs_recheck(&d));
    }

    #[test]
    fn a_signal_to_another_contact_than_the_calls_is_the_wrong_contact() {
        let stale = "Error signaling CXone with: 'Escalate' for contactId: 745512880999; error: CXone API Client: Error sending handover signal: 404: Not Found";
        let d = diagnose(&evidence(
            event(stale, FULL_CONTEXT),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(codes(&d), vec![Code::Hd105, Code::Hd202]);
        assert!(d.findings[1].message.contains("745512880999"));
        assert!(d.findings[1].message.contains("745512890123"));
    }

    /// A contact abandoned in queue at T+60 s on an inactive skill whose live activity
    /// shows logged-in agents, none available, and a backlog.
    fn abandoned_on_a_busy_inactive_skill() -> CxoneEvidence {
        use crate::cxone::types::{Skill, SkillActivity};
        let mut cxone = ended_in_prequeue(60);
        if let CxoneEvidence::Checked(f) = &mut cxone {
            if let Lookup::Found(c) = &mut f.contact {
                c.in_queue_seconds = Some(50.0);
                c.abandoned = Some(true);
            }
            f.skill = Lookup::Found(Skill {
                skill_id: Some("4412877".into()),
                skill_name: Some("Support_Voice_EN".into()),
                is_active: Some(false),
                ..Skill::default()
            });
            f.skill_activity = Lookup::Found(SkillActivity {
                agents_logged_in: Some(3.0),
                agents_available: Some(0.0),
                queue_count: Some(7.0),
                ..SkillActivity::default()
            });
        }
        cxone
    }

    #[test]
    fn live_staffing_counts_for_a_recent_contact_and_not_for_a_past_one() {
        let ev = |now| {
            evidence(
                event(ACCEPTED, FULL_CONTEXT),
                abandoned_on_a_busy_inactive_skill(),
                now,
            )
        };
        // Read 5 minutes after the contact ended (T+60 s): a backlog with nobody free.
        let recent = diagnose(&ev(at(360)));
        assert!(
            recent.has(Code::Hd302) && recent.has(Code::Hd304),
            "{:?}",
            codes(&recent)
        );
        assert!(
            !recent
                .timeline
                .iter()
                .any(|t| t.event == "LiveStaffingNotJudged")
        );
        // Read the next morning: the skill is still inactive (configuration), but the
        // backlog seen now is not the one the caller met.
        let past = diagnose(&ev(at(18 * 3600)));
        assert!(past.has(Code::Hd302), "{:?}", codes(&past));
        assert!(
            !past.has(Code::Hd304) && !past.has(Code::Hd303),
            "{:?}",
            codes(&past)
        );
        let note = past
            .timeline
            .iter()
            .find(|t| t.event == "LiveStaffingNotJudged")
            .expect("the timeline says why staffing was not judged");
        assert_eq!(note.at, at(18 * 3600));
        assert!(
            note.detail
                .contains("could not be judged for this past contact"),
            "{}",
            note.detail
        );
        assert!(render_text(&past).contains("LiveStaffingNotJudged"));
    }

    #[test]
    fn the_master_contact_comes_from_cxone_else_from_the_event_and_is_omitted_when_unknown() {
        let from_event = diagnose(&evidence(
            event(ACCEPTED, FULL_CONTEXT),
            CxoneEvidence::NotConfigured,
            at(60),
        ));
        assert_eq!(
            from_event.master_contact_id.as_deref(),
            Some("745512890101")
        );

        let mut cxone = ended_in_prequeue(30);
        if let CxoneEvidence::Checked(f) = &mut cxone
            && let Lookup::Found(c) = &mut f.contact
        {
            c.master_contact_id = Some("745512890100".into());
        }
        let from_cxone = diagnose(&evidence(event(ACCEPTED, FULL_CONTEXT), cxone, at(60)));
        assert_eq!(
            from_cxone.master_contact_id.as_deref(),
            Some("745512890100")
        );

        let scanned = diagnose(&Evidence {
            event: None,
            contact_id: Some("745512890123".into()),
            cxone: ended_in_prequeue(30),
            required_context_keys: Vec::new(),
            now: at(60),
        });
        assert_eq!(scanned.master_contact_id, None);
        let json = serde_json::to_value(&scanned).unwrap();
        assert!(json.get("masterContactId").is_none(), "{json}");
        let json = serde_json::to_value(&from_cxone).unwrap();
        assert_eq!(json["masterContactId"], "745512890100");
    }
}
