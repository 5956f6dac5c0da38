//! HD304 no-agents-available: agents are logged in, none available, with a backlog.

use serde_json::json;

use super::rule::Rule;
use super::support::{finding, hms, live_activity, secs, skill_label};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd304_no_agents_available.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAgentsAvailable;

impl Rule for NoAgentsAvailable {
    const CODE: Code = Code::Hd304;
    const TITLE: &'static str =
        "Agents are logged in, but none was available: the queue is backed up";
    const DOC: &'static str = include_str!("hd304_no_agents_available.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let a = live_activity(ev)?;
        let logged_in = a.agents_logged_in?;
        let available = a.agents_available?;
        let queued = a.queue_count.unwrap_or(0.0);
        if logged_in <= 0.0 || available > 0.0 || queued <= 0.0 {
            return None;
        }
        let skill = skill_label(ev);
        let oldest = match (a.earliest_queue_time, a.server_time) {
            (Some(q), Some(now)) if now > q => format!(
                "; the oldest has waited {}",
                secs((now - q).num_seconds() as f64)
            ),
            _ => String::new(),
        };
        let when = a
            .server_time
            .map(|t| format!(" when diagnosed at {}", hms(t)))
            .unwrap_or_default();
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Skill {skill} had {logged_in} agent(s) logged in but none available ({} working, {} in after-call work, {} unavailable) and {queued} contact(s) queued{when}{oldest}.",
                a.agents_working.unwrap_or(0.0),
                a.agents_acw.unwrap_or(0.0),
                a.agents_unavailable.unwrap_or(0.0),
            ),
            format!(
                "Add capacity to {skill} at this time of day (more agents, shorter after-call work, overflow to a second skill), or have the bot offer a callback when the queue is long."
            ),
            json!({
                "skill": skill,
                "agentsLoggedIn": logged_in,
                "agentsAvailable": available,
                "agentsWorking": a.agents_working,
                "agentsACW": a.agents_acw,
                "agentsUnavailable": a.agents_unavailable,
                "queueCount": queued,
                "earliestQueueTime": a.earliest_queue_time,
            }),
        ))
    }
}
