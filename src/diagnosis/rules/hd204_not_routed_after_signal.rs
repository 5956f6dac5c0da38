//! HD204 not-routed-after-signal: CXone accepted the signal but the contact never reached a
//! queue.

use serde_json::json;

use super::rule::Rule;
use super::support::{
    HANGUP_GRACE, agent_took_it, contact_end, contact_id, escalation_accepted, finding, hms,
    reached_queue, secs, still_active,
};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd204_not_routed_after_signal.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct NotRoutedAfterSignal;

impl Rule for NotRoutedAfterSignal {
    const CODE: Code = Code::Hd204;
    const TITLE: &'static str =
        "CXone accepted the signal, but the Studio script never queued the contact";
    const DOC: &'static str = include_str!("hd204_not_routed_after_signal.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        // Only an accepted escalation asks the script for an agent; after `End` the script
        // ending the contact is what the bot asked for.
        if !escalation_accepted(ev) {
            return None;
        }
        let requested = ev.requested_at()?;
        let contact = ev.contact()?;
        if agent_took_it(ev) || reached_queue(ev) != Some(false) {
            return None;
        }
        let deadline = requested + HANGUP_GRACE;
        let waited = match contact_end(ev) {
            Some(end) if end > deadline => (end - requested).num_seconds(),
            Some(_) => return None,
            None if still_active(ev) && ev.now > deadline => (ev.now - requested).num_seconds(),
            None => return None,
        };
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        let ending = if still_active(ev) {
            format!("it is still in pre-queue {} later", secs(waited as f64))
        } else {
            format!(
                "it stayed in pre-queue and ended {} later{}",
                secs(waited as f64),
                contact
                    .end_reason
                    .as_deref()
                    .map(|r| format!(" (\"{r}\")"))
                    .unwrap_or_default()
            )
        };
        let skill = contact
            .skill_name
            .as_deref()
            .map(|s| format!(" on skill {s}"))
            .unwrap_or_default();
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "CXone accepted the bot's signal for contact {id} at {}{}, but the contact never reached a queue: {ending}{skill}. The Studio script did not act on the signal.",
                hms(requested),
                if ev.requested_at_is_receive_time() {
                    " (when the bot's report was received: the event has no occurredAt)"
                } else {
                    ""
                }
            ),
            "In CXone Studio, check the spawned SIP-backchannel script: it needs an OnSignal event whose branch matches p1 = \"Escalate\" and runs Reqagent (or hands the contact back to the main script that does); check the script's trace for this contact id.",
            json!({
                "contactId": id,
                "requestedAt": requested,
                "requestedAtIsReceiveTime": ev.requested_at_is_receive_time().then_some(true),
                "secondsWithoutQueue": waited,
                "preQueueSeconds": contact.pre_queue_seconds,
                "inQueueSeconds": contact.in_queue_seconds,
                "skillName": contact.skill_name,
            }),
        ))
    }
}
