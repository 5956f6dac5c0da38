//! HD302 skill-inactive: the target skill is inactive.

use serde_json::json;

use super::rule::Rule;
use super::support::{finding, skill_label};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd302_skill_inactive.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SkillInactive;

impl Rule for SkillInactive {
    const CODE: Code = Code::Hd302;
    const TITLE: &'static str = "The target skill is inactive in CXone";
    const DOC: &'static str = include_str!("hd302_skill_inactive.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        let from_skill = facts.skill.found().and_then(|s| s.is_active);
        let from_activity = facts.skill_activity.found().and_then(|a| a.is_active);
        if from_skill != Some(false) && from_activity != Some(false) {
            return None;
        }
        let skill = skill_label(ev);
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Skill {skill} is inactive in CXone (isActive false): contacts requested on it are not routed to agents."
            ),
            format!(
                "Activate {skill} in CXone ACD → Skills, or point the bot's routing data and the Studio script at the active skill that replaced it."
            ),
            json!({
                "skill": skill,
                "skillId": facts.skill.found().and_then(|s| s.skill_id.clone()),
                "isActive": false,
            }),
        ))
    }
}
