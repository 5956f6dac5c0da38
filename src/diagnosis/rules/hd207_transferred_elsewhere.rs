//! HD207 transferred-elsewhere: the contact went to another skill or an external number than
//! the one requested.

use serde_json::json;

use super::rule::Rule;
use super::support::{contact_id, event_target_skill, finding, is_queue_state};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd207_transferred_elsewhere.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct TransferredElsewhere;

/// True when a skill (by id or name) is the requested one.
fn is_target(ev: &Evidence, id: Option<&str>, name: Option<&str>) -> bool {
    let resolved = ev
        .facts()
        .and_then(|f| f.skill.found())
        .and_then(|s| s.skill_id.clone());
    let target = event_target_skill(ev);
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    [target.as_deref(), resolved.as_deref()]
        .into_iter()
        .flatten()
        .any(|t| id.is_some_and(|i| same(i, t)) || name.is_some_and(|n| same(n, t)))
}

impl Rule for TransferredElsewhere {
    const CODE: Code = Code::Hd207;
    const TITLE: &'static str =
        "The call went to another skill or an external number than the one requested";
    const DOC: &'static str = include_str!("hd207_transferred_elsewhere.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let c = ev.contact()?;
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        let indicator = c.transfer_indicator_name.as_deref().unwrap_or("");
        let fix = "Check the Studio script's routing after OnSignal: the Reqagent / Reskill actions and any after-hours or overflow branch that moves the contact; make the bot's targetSkill and the script's skill agree.";
        if indicator.eq_ignore_ascii_case("External") {
            return Some(finding(
                Self::CODE,
                Severity::Error,
                format!(
                    "Contact {id} was transferred to an external number (transferIndicatorName External) instead of the requested skill{}.",
                    event_target_skill(ev)
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default()
                ),
                fix,
                json!({ "contactId": id, "transferIndicatorName": indicator }),
            ));
        }
        let target = event_target_skill(ev)?;
        let queued: Vec<_> = ev
            .states()
            .iter()
            .filter(|s| s.contact_state_name.as_deref().is_some_and(is_queue_state))
            .collect();
        let queued_elsewhere = !queued.is_empty()
            && !queued
                .iter()
                .any(|s| is_target(ev, s.skill_id.as_deref(), s.skill_name.as_deref()));
        let reskilled = indicator.eq_ignore_ascii_case("ReSkill")
            && !is_target(ev, c.skill_id.as_deref(), c.skill_name.as_deref());
        if !queued_elsewhere && !reskilled {
            return None;
        }
        let went_to = queued
            .last()
            .and_then(|s| s.skill_name.clone().or_else(|| s.skill_id.clone()))
            .or_else(|| c.skill_name.clone())
            .unwrap_or_else(|| "another skill".into());
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Contact {id} was queued on skill {went_to}, not on the requested {target}{}.",
                if reskilled { " (re-skilled)" } else { "" }
            ),
            fix,
            json!({
                "contactId": id,
                "targetSkill": target,
                "queuedSkill": went_to,
                "transferIndicatorName": c.transfer_indicator_name,
            }),
        ))
    }
}
