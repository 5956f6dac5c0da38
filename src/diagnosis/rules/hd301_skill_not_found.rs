//! HD301 skill-not-found: the target skill does not exist in CXone.

use serde_json::json;

use super::rule::Rule;
use super::support::{event_target_skill, finding};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, Lookup};
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd301_skill_not_found.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SkillNotFound;

impl Rule for SkillNotFound {
    const CODE: Code = Code::Hd301;
    const TITLE: &'static str = "The target skill does not exist in CXone";
    const DOC: &'static str = include_str!("hd301_skill_not_found.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        if !matches!(facts.skill, Lookup::NotFound) {
            return None;
        }
        let target = event_target_skill(ev)?;
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The bot asked for skill \"{target}\", but CXone has no skill with that id or name in this business unit."
            ),
            format!(
                "Correct the skill in the bot's routing data (or the Studio script's skill mapping) to an existing skill id, or create \"{target}\" in CXone ACD → Skills."
            ),
            json!({ "targetSkill": target }),
        ))
    }
}
