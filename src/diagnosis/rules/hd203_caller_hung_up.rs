//! HD203 caller-hung-up: the contact ended before the handover was requested, or within
//! 10 seconds after (the timing rule of CONTRACT.md section 7).

use serde_json::json;

use super::rule::Rule;
use super::support::{
    HANGUP_GRACE, agent_took_it, contact_end, contact_id, finding, hms, is_escalation,
    requested_phrase, secs, state_at,
};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd203_caller_hung_up.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CallerHungUp;

impl Rule for CallerHungUp {
    const CODE: Code = Code::Hd203;
    const TITLE: &'static str = "The caller hung up before the handover could happen";
    const DOC: &'static str = include_str!("hd203_caller_hung_up.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        // A bot that signalled `End` ended the contact itself: nobody hung up on a handover.
        if !is_escalation(ev) {
            return None;
        }
        let requested = ev.requested_at()?;
        let contact = ev.contact()?;
        if agent_took_it(ev) {
            return None;
        }
        let end = contact_end(ev)?;
        if end > requested + HANGUP_GRACE {
            return None;
        }
        let delta = (end - requested).num_milliseconds() as f64 / 1000.0;
        let relation = if delta <= 0.0 {
            format!("{} before", secs(-delta))
        } else {
            format!("{} after", secs(delta))
        };
        let state = state_at(ev, end - chrono::Duration::milliseconds(1))
            .and_then(|s| s.contact_state_name.clone());
        let in_state = state
            .as_deref()
            .map(|s| format!(" while in {s}"))
            .unwrap_or_default();
        let reason = contact
            .end_reason
            .as_deref()
            .map(|r| format!(" (CXone end reason: \"{r}\")"))
            .unwrap_or_default();
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Contact {id} ended at {}{in_state}, {relation} {}{reason}: the caller hung up (or the line dropped) before CXone could route the call.",
                hms(end),
                requested_phrase(ev).unwrap_or_default(),
            ),
            "Nothing is broken for this call. If it happens often, shorten the bot's path to the handover (confirm less, escalate earlier when the caller asks for an agent) and check the prompts played while the handover runs (Exit Interaction waits 5 s).",
            json!({
                "contactId": id,
                "endedAt": end,
                "requestedAt": requested,
                "requestedAtIsReceiveTime": ev.requested_at_is_receive_time().then_some(true),
                "secondsAfterRequest": delta,
                "lastState": state,
                "endReason": contact.end_reason,
            }),
        ))
    }
}
