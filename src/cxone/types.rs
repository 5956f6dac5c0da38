//! CXone API response types, deserialised tolerantly.
//!
//! Field names drift between API versions (`contactStart` → `contactStartDate`, `fromAddr`
//! → `fromAddress`, ...), ids arrive as numbers or strings, durations as numbers or
//! strings, and the contact record sits inside a `contactId` wrapper object (current
//! versions) or a `resultSet` (v1x). Every field is optional; the rules decide what a
//! missing value means. Shapes: `../shared/domain/cxone.md` section 3; recorded examples in
//! `fixtures/cxone/`.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A CXone id (contact, skill, agent, profile): numbers and numeric strings alike, kept as
/// the decimal string.
pub type Id = String;

/// Deserialises a number or string id; `0`, `""` and `null` become `None`.
pub fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) if n.as_i64() != Some(0) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim() != "0" => {
            Some(s.trim().to_string())
        }
        _ => None,
    })
}

/// Deserialises a number that may come as a string (`"241"`) or as a float.
pub fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Deserialises a bool that may come as `"true"`, `1` or `"1"`.
pub fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Deserialises a free-text field; `""` becomes `None`, numbers become their text.
pub fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// Deserialises a CXone timestamp: RFC 3339, or ISO without offset (taken as UTC).
pub fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => parse_time(&s),
        _ => None,
    })
}

/// Parses the timestamp forms CXone uses; `None` for anything else (including the
/// `0001-01-01` "never" value some versions send).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| Utc.from_utc_datetime(&t))
        })?;
    (t.timestamp() > 0).then_some(t)
}

/// A contact, active or completed (`GET /contacts/{contactId}`, `/contacts/completed`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    #[serde(deserialize_with = "de_opt_id")]
    pub contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub master_contact_id: Option<Id>,
    #[serde(alias = "contactStart", deserialize_with = "de_opt_time")]
    pub contact_start_date: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_time")]
    pub last_update_time: Option<DateTime<Utc>>,
    #[serde(alias = "mediaType", deserialize_with = "de_opt_id")]
    pub media_type_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub media_type_name: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_outbound: Option<bool>,
    /// The caller's number (ANI): personal data, mask before showing.
    #[serde(alias = "fromAddr", deserialize_with = "de_opt_string")]
    pub from_address: Option<String>,
    #[serde(alias = "toAddr", deserialize_with = "de_opt_string")]
    pub to_address: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub point_of_contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub point_of_contact_name: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub campaign_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub team_id: Option<Id>,
    /// `None` when no agent took the contact (CXone sends `0`).
    #[serde(deserialize_with = "de_opt_id")]
    pub agent_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub pre_queue_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub in_queue_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agent_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub post_queue_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub hold_seconds: Option<f64>,
    #[serde(alias = "ACWSeconds", deserialize_with = "de_opt_f64")]
    pub acw_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub release_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub total_duration_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub abandoned: Option<bool>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub abandon_seconds: Option<f64>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_short_abandon: Option<bool>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_refused: Option<bool>,
    #[serde(deserialize_with = "de_opt_string")]
    pub refuse_reason: Option<String>,
    #[serde(deserialize_with = "de_opt_time")]
    pub refuse_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_string")]
    pub end_reason: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub primary_disposition_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub transfer_indicator_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub transfer_indicator_name: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_active: Option<bool>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_warehoused: Option<bool>,
    #[serde(deserialize_with = "de_opt_time")]
    pub date_contact_warehoused: Option<DateTime<Utc>>,
    /// Active-contact shape: e.g. `PreQueue`, `InQueue`, `Active`.
    #[serde(deserialize_with = "de_opt_string")]
    pub state_name: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub state_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub contact_state_category: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub business_unit_id: Option<Id>,
}

impl Contact {
    /// Start plus total duration, when both are known.
    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        let start = self.contact_start_date?;
        let secs = self.total_duration_seconds?;
        Some(start + chrono::Duration::milliseconds((secs * 1000.0) as i64))
    }
}

/// One entry of `GET /contacts/{id}/statehistory`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContactState {
    #[serde(deserialize_with = "de_opt_f64")]
    pub state_index: Option<f64>,
    #[serde(deserialize_with = "de_opt_id")]
    pub contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub contact_state_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub contact_state_name: Option<String>,
    #[serde(deserialize_with = "de_opt_time")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_id")]
    pub agent_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub duration: Option<f64>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_warehoused: Option<bool>,
}

/// `GET /contacts/{id}/hierarchy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hierarchy {
    #[serde(deserialize_with = "de_opt_id")]
    pub master_contact_id: Option<Id>,
    pub child_contacts: Vec<ChildContact>,
}

/// A child of a master contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChildContact {
    #[serde(deserialize_with = "de_opt_id")]
    pub contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_time")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_time")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_string")]
    pub media_type_name: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
}

/// `GET /skills/{skillId}` (and the entries of `GET /skills`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Skill {
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
    #[serde(alias = "mediaType", deserialize_with = "de_opt_id")]
    pub media_type_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub media_type_name: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_active: Option<bool>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_outbound: Option<bool>,
    #[serde(deserialize_with = "de_opt_id")]
    pub campaign_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub script_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub script_name: Option<String>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub service_level_threshold: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub service_level_goal: Option<f64>,
}

/// One entry of `GET /skills/{skillId}/agents` (`agentSkillAssignments`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AgentSkillAssignment {
    #[serde(deserialize_with = "de_opt_id")]
    pub agent_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_active: Option<bool>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_skill_active: Option<bool>,
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
}

/// One entry of `GET /skills/{skillId}/activity` (`skillActivity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SkillActivity {
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
    #[serde(deserialize_with = "de_opt_time")]
    pub server_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_active: Option<bool>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agents_logged_in: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agents_available: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agents_working: Option<f64>,
    #[serde(
        rename = "agentsACW",
        alias = "agentsAcw",
        deserialize_with = "de_opt_f64"
    )]
    pub agents_acw: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agents_unavailable: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub queue_count: Option<f64>,
    #[serde(deserialize_with = "de_opt_time")]
    pub earliest_queue_time: Option<DateTime<Utc>>,
}

/// One day of an hours-of-operation profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HoursDay {
    /// e.g. `Monday`.
    #[serde(deserialize_with = "de_opt_string")]
    pub day: Option<String>,
    /// `HH:MM[:SS]` in the business unit's time zone.
    #[serde(deserialize_with = "de_opt_string")]
    pub open_time: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub close_time: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub has_additional_hours: Option<bool>,
    #[serde(deserialize_with = "de_opt_string")]
    pub additional_open_time: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub additional_close_time: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_closed_all_day: Option<bool>,
}

/// A holiday of an hours-of-operation profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Holiday {
    #[serde(deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// The date, `YYYY-MM-DD` (or a timestamp whose date part counts).
    #[serde(deserialize_with = "de_opt_string")]
    pub date: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub open_time: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub close_time: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_closed_all_day: Option<bool>,
}

/// A skill or script listed on a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileMember {
    #[serde(alias = "scriptId", deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(alias = "scriptName", deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
}

/// `GET /hours-of-operation/{profileId}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HoursOfOperation {
    #[serde(deserialize_with = "de_opt_id")]
    pub hours_of_operation_profile_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub hours_of_operation_profile_name: Option<String>,
    /// A manual override such as an emergency closure (free text).
    #[serde(deserialize_with = "de_opt_string")]
    pub override_branch: Option<String>,
    #[serde(deserialize_with = "de_opt_time")]
    pub override_expiration_date: Option<DateTime<Utc>>,
    pub days: Vec<HoursDay>,
    pub holidays: Vec<Holiday>,
    pub skills: Vec<ProfileMember>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_fields_and_string_numbers_are_read_alike() {
        let old: Contact = serde_json::from_str(
            r#"{"contactId":"745512890123","contactStart":"2026-05-12T14:21:44.530Z","fromAddr":"4155550123",
                "agentId":0,"inQueueSeconds":"76","abandoned":"true","mediaType":4}"#,
        )
        .unwrap();
        let new: Contact = serde_json::from_str(
            r#"{"contactId":745512890123,"contactStartDate":"2026-05-12T14:21:44.530Z","fromAddress":"4155550123",
                "agentId":"","inQueueSeconds":76,"abandoned":true,"mediaTypeId":"4"}"#,
        )
        .unwrap();
        assert_eq!(old, new);
        assert_eq!(new.agent_id, None);
        assert_eq!(new.in_queue_seconds, Some(76.0));
        assert_eq!(new.media_type_id.as_deref(), Some("4"));
    }

    #[test]
    fn never_timestamps_read_as_absent() {
        assert_eq!(parse_time("0001-01-01T00:00:00"), None);
        assert!(parse_time("2026-05-12T14:21:44").is_some());
    }
}
