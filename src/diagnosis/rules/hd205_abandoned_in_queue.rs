//! HD205 abandoned-in-queue: the caller gave up while queued.

use serde_json::json;

use super::rule::Rule;
use super::support::{contact_id, finding, reached_queue, secs, skill_label};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd205_abandoned_in_queue.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct AbandonedInQueue;

impl Rule for AbandonedInQueue {
    const CODE: Code = Code::Hd205;
    const TITLE: &'static str = "The caller abandoned while waiting in the queue";
    const DOC: &'static str = include_str!("hd205_abandoned_in_queue.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let c = ev.contact()?;
        if c.abandoned != Some(true) || reached_queue(ev) == Some(false) {
            return None;
        }
        let waited = c.in_queue_seconds.or(c.abandon_seconds).unwrap_or(0.0);
        let short = if c.is_short_abandon == Some(true) {
            " (a short abandon)"
        } else {
            ""
        };
        let skill = c.skill_name.clone().unwrap_or_else(|| skill_label(ev));
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The caller of contact {id} hung up after waiting {} in the queue of {skill}{short} without being offered to an agent.",
                secs(waited)
            ),
            format!(
                "Check the staffing of {skill} at that time (agents logged in and available) and its service level; offer a callback or play the expected wait time to long-waiting callers."
            ),
            json!({
                "contactId": id,
                "inQueueSeconds": c.in_queue_seconds,
                "abandonSeconds": c.abandon_seconds,
                "isShortAbandon": c.is_short_abandon,
                "skillName": c.skill_name,
            }),
        ))
    }
}
