//! HD401 handover-succeeded: an agent took the contact after all.

use serde_json::json;

use super::rule::Rule;
use super::support::{agent_took_it, contact_id, finding, first_agent_state, hms, secs};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd401_handover_succeeded.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct HandoverSucceeded;

impl Rule for HandoverSucceeded {
    const CODE: Code = Code::Hd401;
    const TITLE: &'static str = "False alarm: an agent took the call after all";
    const DOC: &'static str = include_str!("hd401_handover_succeeded.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        if !agent_took_it(ev) {
            return None;
        }
        let c = ev.contact()?;
        let first = first_agent_state(ev);
        let agent = c
            .agent_id
            .clone()
            .or_else(|| first.and_then(|s| s.agent_id.clone()));
        let answered_at = first.and_then(|s| s.start_date);
        // The wait the caller had: queue time as CXone counts it, else request to answer.
        let wait = c.in_queue_seconds.filter(|s| *s > 0.0).or_else(|| {
            let (req, at) = (ev.requested_at()?, answered_at?);
            (at > req).then(|| (at - req).num_milliseconds() as f64 / 1000.0)
        });
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        let who = agent
            .as_deref()
            .map(|a| format!("agent {a}"))
            .unwrap_or_else(|| "an agent".into());
        let when = answered_at
            .map(|t| format!(" at {}", hms(t)))
            .unwrap_or_default();
        let waited = wait
            .map(|w| format!(" after {} in queue", secs(w)))
            .unwrap_or_default();
        let talked = c
            .agent_seconds
            .filter(|s| *s > 0.0)
            .map(|s| format!(" and talked for {}", secs(s)))
            .unwrap_or_default();
        let skill = c
            .skill_name
            .as_deref()
            .map(|s| format!(" on {s}"))
            .unwrap_or_default();
        Some(finding(
            Self::CODE,
            Severity::Info,
            format!(
                "The handover succeeded after all: {who} took contact {id}{skill}{when}{waited}{talked}."
            ),
            "Nothing to fix for this call. If the bot reported it as failed, check when the flow sends the webhook: send it when context.CXoneHandover starts with \"Error\" (or on a real error), not after every escalation.",
            json!({
                "contactId": id,
                "agentId": agent,
                "answeredAt": answered_at,
                "waitSeconds": wait,
                "agentSeconds": c.agent_seconds,
                "skillName": c.skill_name,
            }),
        ))
    }
}
