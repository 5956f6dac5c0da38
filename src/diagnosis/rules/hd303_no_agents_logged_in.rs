//! HD303 no-agents-logged-in: nobody with the target skill is logged in.

use serde_json::json;

use super::rule::Rule;
use super::support::{finding, hms, live_activity, skill_label};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd303_no_agents_logged_in.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAgentsLoggedIn;

impl Rule for NoAgentsLoggedIn {
    const CODE: Code = Code::Hd303;
    const TITLE: &'static str = "No agent with the target skill is logged in";
    const DOC: &'static str = include_str!("hd303_no_agents_logged_in.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        let skill = skill_label(ev);
        let assignments = facts.skill_agents.found();
        let usable = assignments.map(|a| {
            a.iter()
                .filter(|x| x.is_active != Some(false) && x.is_skill_active != Some(false))
                .count()
        });
        // Live activity only while it is evidence about this contact; the assignments are
        // configuration and count whenever.
        let activity = live_activity(ev);
        let logged_in = activity.and_then(|a| a.agents_logged_in);
        let when = activity
            .and_then(|a| a.server_time)
            .map(|t| format!(" when diagnosed at {}", hms(t)))
            .unwrap_or_default();
        let message = if usable == Some(0) {
            format!(
                "No active agent is assigned to skill {skill} ({} assignment{} in CXone, none with both the agent and the skill active): nobody can ever take these calls.",
                assignments.map_or(0, Vec::len),
                if assignments.map_or(0, Vec::len) == 1 {
                    ""
                } else {
                    "s"
                }
            )
        } else if logged_in == Some(0.0) {
            format!(
                "No agent with skill {skill} was logged in ({} queued){when}, so the caller could not be offered to anyone.",
                activity.and_then(|a| a.queue_count).unwrap_or(0.0)
            )
        } else {
            return None;
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            message,
            format!(
                "Assign active agents to {skill} (CXone Admin → Employees → Skills) and staff it during the bot's opening hours; if nobody works it at this time, let the bot check hours or availability before escalating and offer a callback."
            ),
            json!({
                "skill": skill,
                "agentsLoggedIn": logged_in,
                "agentsAssigned": assignments.map(Vec::len),
                "agentsAssignedActive": usable,
                "queueCount": activity.and_then(|a| a.queue_count),
                "serverTime": activity.and_then(|a| a.server_time),
            }),
        ))
    }
}
