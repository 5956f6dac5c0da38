//! HD206 agent-refused: an agent was offered the contact and refused or missed it.

use serde_json::json;

use super::rule::Rule;
use super::support::{agent_took_it, contact_id, finding, hms};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd206_agent_refused.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct AgentRefused;

impl Rule for AgentRefused {
    const CODE: Code = Code::Hd206;
    const TITLE: &'static str = "An agent was offered the call and refused or missed it";
    const DOC: &'static str = include_str!("hd206_agent_refused.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let c = ev.contact()?;
        let refused_state = ev.states().iter().find(|s| {
            s.contact_state_name
                .as_deref()
                .is_some_and(|n| n.to_ascii_lowercase().starts_with("refuse"))
        });
        if c.is_refused != Some(true) && refused_state.is_none() {
            return None;
        }
        // A refusal followed by another agent answering is a side note of HD401.
        let answered = agent_took_it(ev);
        let at = c
            .refuse_time
            .or_else(|| refused_state.and_then(|s| s.start_date));
        let who = refused_state
            .and_then(|s| s.agent_id.clone())
            .map(|a| format!("agent {a}"))
            .unwrap_or_else(|| "an agent".to_string());
        let when = at.map(|t| format!(" at {}", hms(t))).unwrap_or_default();
        let reason = c
            .refuse_reason
            .as_deref()
            .map(|r| format!(" (reason: \"{r}\")"))
            .unwrap_or_default();
        let then = if answered {
            "; another agent answered later"
        } else {
            ", and nobody answered afterwards"
        };
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        Some(finding(
            Self::CODE,
            if answered {
                Severity::Info
            } else {
                Severity::Error
            },
            format!(
                "Contact {id} was offered to {who}{when} who refused or missed it{reason}{then}."
            ),
            "Check the refusing agent's phone/WebRTC station and the skill's refusal timeout; agents who step away should set an unavailable state instead of leaving offers to time out, or enable auto-accept for the skill.",
            json!({
                "contactId": id,
                "refuseTime": at,
                "refuseReason": c.refuse_reason,
                "agentId": refused_state.and_then(|s| s.agent_id.clone()),
            }),
        ))
    }
}
