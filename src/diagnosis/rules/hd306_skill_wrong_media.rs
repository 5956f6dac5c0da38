//! HD306 skill-wrong-media: the skill is not a Phone Call skill, for a voice contact.

use serde_json::json;

use super::rule::Rule;
use super::support::{event, finding, skill_label, uses_signal};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd306_skill_wrong_media.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SkillWrongMedia;

/// CXone's media type id of a phone call.
const PHONE_CALL: &str = "4";

fn media_name(id: &str) -> &'static str {
    match id {
        "1" => "Email",
        "2" => "Fax",
        "3" => "Chat",
        "4" => "Phone Call",
        "5" => "Voice Mail",
        "6" => "Work Item",
        "7" => "SMS",
        "8" => "Social",
        "9" => "Digital",
        _ => "an unknown media type",
    }
}

impl Rule for SkillWrongMedia {
    const CODE: Code = Code::Hd306;
    const TITLE: &'static str = "The target skill is not a Phone Call skill";
    const DOC: &'static str = include_str!("hd306_skill_wrong_media.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let skill = ev.facts()?.skill.found()?;
        let voice_contact = match ev.contact().and_then(|c| c.media_type_id.as_deref()) {
            Some(m) => m == PHONE_CALL,
            None => {
                uses_signal(ev)
                    || event(ev).is_some_and(|e| {
                        e.flow
                            .channel
                            .as_deref()
                            .or(e.flow.endpoint_type.as_deref())
                            .is_some_and(|c| c.to_ascii_lowercase().contains("voice"))
                    })
            }
        };
        let media = skill.media_type_id.as_deref()?;
        if !voice_contact || media == PHONE_CALL {
            return None;
        }
        let media_label = skill
            .media_type_name
            .clone()
            .unwrap_or_else(|| media_name(media).to_string());
        let label = skill_label(ev);
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Skill {label} is a {media_label} skill (media type {media}), but the contact is a phone call: CXone cannot queue a voice contact on it."
            ),
            format!(
                "Point the bot's routing data and the Studio script's Reqagent at a Phone Call skill; {label} serves {media_label} only."
            ),
            json!({
                "skill": label,
                "mediaTypeId": media,
                "mediaTypeName": media_label,
            }),
        ))
    }
}
