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

/// Deserialises a number that may come as a string (`"241"`, or with thousands
/// separators as some versions format `*Seconds`: `"1,204"`) or as a float.
pub fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => parse_number(&s),
        _ => None,
    })
}

/// `"241"`, `"12.5"`, `"1,204"`, `"1,204.5"`; a comma is taken only as a thousands
/// separator (groups of three digits), never as a decimal mark.
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.contains(',') {
        return s.parse().ok();
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let mut groups = whole.trim_start_matches('-').split(',');
    let first = groups.next()?;
    let grouped = (1..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()));
    if !grouped {
        return None;
    }
    let plain = whole.replace(',', "");
    match frac {
        Some(f) => format!("{plain}.{f}").parse().ok(),
        None => plain.parse().ok(),
    }
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

/// Deserialises a list that may come as `null` (read as empty, as a missing one is).
pub fn de_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Renames old field names to their current ones in a record, before it is read: a body
/// with only the old name reads like one with the new; a body with both (some versions
/// send both during a transition) keeps the new one unless it is `null` or blank. Serde's
/// `alias` cannot do this: it refuses the second as a duplicate field.
fn undrift(mut v: Value, renames: &[(&str, &str)]) -> Value {
    if let Value::Object(map) = &mut v {
        for (old, new) in renames {
            let Some(old_value) = map.remove(*old) else {
                continue;
            };
            let new_is_empty = match map.get(*new) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            };
            if new_is_empty {
                map.insert((*new).to_string(), old_value);
            }
        }
    }
    v
}

/// `Deserialize` (and `Serialize`) for a type whose derived impls were generated with
/// `#[serde(remote = "Self")]`: the record is read as JSON, [`undrift`]ed, then read by the
/// derived code.
macro_rules! tolerant_record {
    ($ty:ty, $renames:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = undrift(Value::deserialize(d)?, $renames);
                <$ty>::deserialize(v).map_err(serde::de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }
    };
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
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct Contact {
    #[serde(deserialize_with = "de_opt_id")]
    pub contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_id")]
    pub master_contact_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_time")]
    pub contact_start_date: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_time")]
    pub last_update_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "de_opt_id")]
    pub media_type_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub media_type_name: Option<String>,
    #[serde(deserialize_with = "de_opt_bool")]
    pub is_outbound: Option<bool>,
    /// The caller's number (ANI): personal data, mask before showing.
    #[serde(deserialize_with = "de_opt_string")]
    pub from_address: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
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
    #[serde(deserialize_with = "de_opt_f64")]
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

tolerant_record!(
    Contact,
    &[
        ("contactStart", "contactStartDate"),
        ("mediaType", "mediaTypeId"),
        ("fromAddr", "fromAddress"),
        ("toAddr", "toAddress"),
        ("ACWSeconds", "acwSeconds"),
        // Versions before v2x name the current state `state` (e.g. "EndContact").
        ("state", "stateName"),
    ]
);

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
    #[serde(deserialize_with = "de_vec")]
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
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct Skill {
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
    #[serde(deserialize_with = "de_opt_id")]
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

tolerant_record!(Skill, &[("mediaType", "mediaTypeId")]);

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
#[serde(remote = "Self", rename_all = "camelCase", default)]
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
    #[serde(rename = "agentsACW", deserialize_with = "de_opt_f64")]
    pub agents_acw: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub agents_unavailable: Option<f64>,
    #[serde(deserialize_with = "de_opt_f64")]
    pub queue_count: Option<f64>,
    #[serde(deserialize_with = "de_opt_time")]
    pub earliest_queue_time: Option<DateTime<Utc>>,
}

tolerant_record!(SkillActivity, &[("agentsAcw", "agentsACW")]);

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
#[serde(remote = "Self", rename_all = "camelCase", default)]
pub struct ProfileMember {
    #[serde(deserialize_with = "de_opt_id")]
    pub skill_id: Option<Id>,
    #[serde(deserialize_with = "de_opt_string")]
    pub skill_name: Option<String>,
}

tolerant_record!(
    ProfileMember,
    &[("scriptId", "skillId"), ("scriptName", "skillName")]
);

/// `GET /hours-of-operation/{profileId}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase", default)]
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
    #[serde(deserialize_with = "de_vec")]
    pub days: Vec<HoursDay>,
    #[serde(deserialize_with = "de_vec")]
    pub holidays: Vec<Holiday>,
    #[serde(deserialize_with = "de_vec")]
    pub skills: Vec<ProfileMember>,
}

tolerant_record!(
    HoursOfOperation,
    &[
        // Older versions (the `resultSet.hoursOfOperationProfiles` shape) say `profile*`.
        ("profileId", "hoursOfOperationProfileId"),
        ("profileName", "hoursOfOperationProfileName"),
    ]
);

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
    fn a_body_with_both_the_old_and_the_new_name_reads_without_a_duplicate_error() {
        let both: Contact = serde_json::from_str(
            r#"{"contactId":1,"contactStart":"2026-05-12T14:00:00Z","contactStartDate":"2026-05-12T14:21:44.530Z",
                "fromAddr":"4155550100","fromAddress":"4155550123","mediaType":4,"mediaTypeId":"",
                "ACWSeconds":3,"acwSeconds":null}"#,
        )
        .unwrap();
        // The current name wins; a blank or null current value gives way to the old one.
        assert_eq!(
            both.contact_start_date,
            parse_time("2026-05-12T14:21:44.530Z")
        );
        assert_eq!(both.from_address.as_deref(), Some("4155550123"));
        assert_eq!(both.media_type_id.as_deref(), Some("4"));
        assert_eq!(both.acw_seconds, Some(3.0));
        let skill: Skill =
            serde_json::from_str(r#"{"skillId":7,"mediaType":4,"mediaTypeId":4}"#).unwrap();
        assert_eq!(skill.media_type_id.as_deref(), Some("4"));
        let act: SkillActivity = serde_json::from_str(r#"{"agentsAcw":1,"agentsACW":2}"#).unwrap();
        assert_eq!(act.agents_acw, Some(2.0));
        let member: ProfileMember =
            serde_json::from_str(r#"{"scriptId":552201,"scriptName":"Main"}"#).unwrap();
        assert_eq!(member.skill_id.as_deref(), Some("552201"));
    }

    #[test]
    fn null_lists_read_as_empty_rather_than_failing_the_record() {
        let h: HoursOfOperation = serde_json::from_str(
            r#"{"hoursOfOperationProfileId":3302,"days":null,"holidays":null,"skills":null}"#,
        )
        .unwrap();
        assert_eq!(h.hours_of_operation_profile_id.as_deref(), Some("3302"));
        assert!(h.days.is_empty() && h.holidays.is_empty() && h.skills.is_empty());
        let h: Hierarchy =
            serde_json::from_str(r#"{"masterContactId":5,"childContacts":null}"#).unwrap();
        assert_eq!(h.master_contact_id.as_deref(), Some("5"));
        assert!(h.child_contacts.is_empty());
    }

    #[test]
    fn records_still_serialise_under_their_current_names() {
        let c = Contact {
            contact_id: Some("1".into()),
            from_address: Some("x".into()),
            ..Contact::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["fromAddress"], "x");
        let back: Contact = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn seconds_with_thousands_separators_read_as_numbers() {
        let c: Contact = serde_json::from_str(
            r#"{"agentSeconds":"1,204","inQueueSeconds":" 2,001,017.5 ","totalDurationSeconds":"12,5"}"#,
        )
        .unwrap();
        assert_eq!(c.agent_seconds, Some(1204.0));
        assert_eq!(c.in_queue_seconds, Some(2_001_017.5));
        // A decimal comma is not a thousands separator: unreadable, so absent.
        assert_eq!(c.total_duration_seconds, None);
    }

    #[test]
    fn the_old_state_and_profile_names_read_as_the_current_ones() {
        let c: Contact = serde_json::from_str(r#"{"state":"EndContact","stateId":"18"}"#).unwrap();
        assert_eq!(c.state_name.as_deref(), Some("EndContact"));
        let h: HoursOfOperation =
            serde_json::from_str(r#"{"profileId":3302,"profileName":"Support"}"#).unwrap();
        assert_eq!(h.hours_of_operation_profile_id.as_deref(), Some("3302"));
        assert_eq!(
            h.hours_of_operation_profile_name.as_deref(),
            Some("Support")
        );
    }

    #[test]
    fn never_timestamps_read_as_absent() {
        assert_eq!(parse_time("0001-01-01T00:00:00"), None);
        assert!(parse_time("2026-05-12T14:21:44").is_some());
    }
}
