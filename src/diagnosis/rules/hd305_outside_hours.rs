//! HD305 outside-hours: the skill's hours of operation were closed at the time.
//!
//! The profile's times are local times of the business unit (`CXONE_TIME_ZONE`): the
//! moment is converted to that zone — with its daylight-saving rules — before the weekday,
//! the holiday date and the opening hours are compared.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::json;

use super::rule::Rule;
use super::support::{finding, skill_label};
use crate::cxone::types::HoursOfOperation;
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd305_outside_hours.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct OutsideHours;

fn time_of(s: Option<&str>) -> Option<NaiveTime> {
    let s = s?.trim();
    // `24:00` and `23:59:59` both mean "until midnight".
    if s.starts_with("24:") {
        return NaiveTime::from_hms_opt(23, 59, 59);
    }
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

fn within(t: NaiveTime, open: Option<&str>, close: Option<&str>) -> Option<bool> {
    let open = time_of(open)?;
    let close = time_of(close)?;
    Some(if open == close {
        true // open around the clock
    } else if open < close {
        open <= t && t < close
    } else {
        // Past midnight, e.g. 22:00-02:00.
        t >= open || t < close
    })
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// Why the profile was closed at `at` (its times read in `zone`), or `None` when it was
/// open (or cannot tell).
pub(crate) fn closed_because(h: &HoursOfOperation, at: DateTime<Utc>, zone: Tz) -> Option<String> {
    if let Some(branch) = h.override_branch.as_deref() {
        let opens = branch.to_ascii_lowercase().contains("open");
        let current = h.override_expiration_date.is_none_or(|exp| exp > at);
        if current && !opens {
            return Some(format!("a manual override (\"{branch}\") was in force"));
        }
    }
    let local = at.with_timezone(&zone).naive_local();
    let t = local.time();
    let date = local.date().format("%Y-%m-%d").to_string();
    if let Some(day) = h.holidays.iter().find(|d| {
        d.date
            .as_deref()
            .is_some_and(|x| x.trim().starts_with(&date))
    }) {
        let name = day.name.as_deref().unwrap_or("a holiday");
        if day.is_closed_all_day == Some(true) {
            return Some(format!("it was {name}, closed all day"));
        }
        return match within(t, day.open_time.as_deref(), day.close_time.as_deref()) {
            Some(false) => Some(format!(
                "it was {name}, open only {}-{}",
                day.open_time.as_deref().unwrap_or("?"),
                day.close_time.as_deref().unwrap_or("?")
            )),
            _ => None,
        };
    }
    let wd = weekday_name(local.weekday());
    let day = h.days.iter().find(|d| {
        d.day
            .as_deref()
            .is_some_and(|n| n.trim().to_ascii_lowercase().starts_with(&wd[..3]))
    })?;
    let day_name = day.day.as_deref().unwrap_or(wd);
    // Older versions mark a closed day by leaving its times empty (`openTime: ""`).
    let no_hours = day.open_time.is_none()
        && day.close_time.is_none()
        && day.has_additional_hours != Some(true)
        && day.is_closed_all_day.is_none();
    if day.is_closed_all_day == Some(true) || no_hours {
        return Some(format!("{day_name} is closed all day"));
    }
    let main = within(t, day.open_time.as_deref(), day.close_time.as_deref())?;
    let extra = if day.has_additional_hours == Some(true) {
        within(
            t,
            day.additional_open_time.as_deref(),
            day.additional_close_time.as_deref(),
        )
        .unwrap_or(false)
    } else {
        false
    };
    if main || extra {
        return None;
    }
    let mut hours = format!(
        "{}-{}",
        day.open_time.as_deref().unwrap_or("?"),
        day.close_time.as_deref().unwrap_or("?")
    );
    if day.has_additional_hours == Some(true) {
        hours.push_str(&format!(
            " and {}-{}",
            day.additional_open_time.as_deref().unwrap_or("?"),
            day.additional_close_time.as_deref().unwrap_or("?")
        ));
    }
    Some(format!("{day_name} hours are {hours}"))
}

impl Rule for OutsideHours {
    const CODE: Code = Code::Hd305;
    const TITLE: &'static str = "The call came outside the skill's hours of operation";
    const DOC: &'static str = include_str!("hd305_outside_hours.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        let hours = facts.hours.found()?;
        let zone = facts.time_zone;
        let at = ev
            .requested_at()
            .or_else(|| ev.contact().and_then(|c| c.contact_start_date))?;
        let why = closed_because(hours, at, zone)?;
        let (when, compared) = if zone == chrono_tz::UTC {
            (
                at.format("%a %Y-%m-%d %H:%M UTC").to_string(),
                "times compared in UTC".to_string(),
            )
        } else {
            (
                at.with_timezone(&zone)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string(),
                format!(
                    "times compared in {}, the business unit's time zone",
                    zone.name()
                ),
            )
        };
        let profile = hours
            .hours_of_operation_profile_name
            .clone()
            .or_else(|| hours.hours_of_operation_profile_id.clone())
            .unwrap_or_else(|| "its hours-of-operation profile".into());
        let skill = skill_label(ev);
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "Skill {skill} was closed at {when} ({compared}): {why} (profile \"{profile}\"), so the script took its closed branch instead of queueing the call."
            ),
            format!(
                "Let the bot check the hours of \"{profile}\" before escalating (tell the caller when the team is open, offer a callback or voicemail), or extend the hours if agents do work then; check that CXONE_TIME_ZONE is the business unit's time zone (now {}).",
                zone.name()
            ),
            json!({
                "skill": skill,
                "profile": profile,
                "at": at,
                "timeZone": zone.name(),
                "reason": why,
                "overrideBranch": hours.override_branch,
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cxone::types::{Holiday, HoursDay};

    fn weekday(day: &str, open: &str, close: &str) -> HoursDay {
        HoursDay {
            day: Some(day.into()),
            open_time: Some(open.into()),
            close_time: Some(close.into()),
            ..HoursDay::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_call_after_closing_time_is_closed_and_one_before_is_not() {
        let h = HoursOfOperation {
            days: vec![weekday("Tuesday", "08:00:00", "20:00:00")],
            ..HoursOfOperation::default()
        };
        // 2026-05-12 is a Tuesday.
        assert!(closed_because(&h, at("2026-05-12T21:42:10Z"), chrono_tz::UTC).is_some());
        assert!(closed_because(&h, at("2026-05-12T14:26:58Z"), chrono_tz::UTC).is_none());
    }

    #[test]
    fn a_holiday_closed_all_day_wins_over_the_weekday_hours() {
        let h = HoursOfOperation {
            days: vec![weekday("Tuesday", "08:00", "20:00")],
            holidays: vec![Holiday {
                name: Some("Company Day".into()),
                date: Some("2026-05-12T00:00:00".into()),
                is_closed_all_day: Some(true),
                ..Holiday::default()
            }],
            ..HoursOfOperation::default()
        };
        let why = closed_because(&h, at("2026-05-12T14:26:58Z"), chrono_tz::UTC).unwrap();
        assert!(why.contains("Company Day"), "{why}");
    }

    #[test]
    fn overnight_hours_and_expired_overrides_are_open() {
        let h = HoursOfOperation {
            override_branch: Some("Emergency closure".into()),
            override_expiration_date: Some(at("2026-05-01T00:00:00Z")),
            days: vec![weekday("Tuesday", "22:00", "02:00")],
            ..HoursOfOperation::default()
        };
        assert!(closed_because(&h, at("2026-05-12T23:30:00Z"), chrono_tz::UTC).is_none());
        assert!(closed_because(&h, at("2026-05-12T12:00:00Z"), chrono_tz::UTC).is_some());
    }

    fn weekdays_8_to_20() -> HoursOfOperation {
        HoursOfOperation {
            days: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
                .into_iter()
                .map(|d| weekday(d, "08:00:00", "20:00:00"))
                .chain(["Saturday", "Sunday"].into_iter().map(|d| HoursDay {
                    day: Some(d.into()),
                    is_closed_all_day: Some(true),
                    ..HoursDay::default()
                }))
                .collect(),
            ..HoursOfOperation::default()
        }
    }

    #[test]
    fn opening_hours_are_read_in_the_business_units_zone_across_the_dst_change() {
        let h = weekdays_8_to_20();
        let ny = chrono_tz::America::New_York;
        // Monday 2026-03-09, the day after New York moved to EDT (UTC-4): 12:30 UTC is
        // 08:30 local, open; in UTC (or with last week's UTC-5) it would read as closed.
        assert!(closed_because(&h, at("2026-03-09T12:30:00Z"), ny).is_none());
        assert!(closed_because(&h, at("2026-03-09T12:30:00Z"), chrono_tz::UTC).is_none());
        // The Monday before, still EST (UTC-5): 12:30 UTC is 07:30 local, closed.
        let why = closed_because(&h, at("2026-03-02T12:30:00Z"), ny).unwrap();
        assert!(why.contains("08:00:00-20:00:00"), "{why}");
        // 23:30 UTC on a Friday in EDT is 19:30 local: still open, though past 20:00 UTC.
        assert!(closed_because(&h, at("2026-05-15T23:30:00Z"), ny).is_none());
        assert!(closed_because(&h, at("2026-05-15T23:30:00Z"), chrono_tz::UTC).is_some());
    }

    #[test]
    fn the_weekday_and_holiday_date_are_the_local_ones() {
        let mut h = weekdays_8_to_20();
        // 2026-05-16 01:00 UTC is Saturday in UTC but Friday 21:00 in New York.
        let ny = chrono_tz::America::New_York;
        let why = closed_because(&h, at("2026-05-16T01:00:00Z"), ny).unwrap();
        assert!(why.starts_with("Friday hours"), "{why}");
        // Tokyo (UTC+9): 2026-12-24 23:30 UTC is Christmas morning 08:30 local.
        h.holidays.push(Holiday {
            name: Some("Christmas Day".into()),
            date: Some("2026-12-25".into()),
            is_closed_all_day: Some(true),
            ..Holiday::default()
        });
        let tokyo = chrono_tz::Asia::Tokyo;
        let why = closed_because(&h, at("2026-12-24T23:30:00Z"), tokyo).unwrap();
        assert!(why.contains("Christmas Day"), "{why}");
        assert!(closed_because(&h, at("2026-12-24T23:30:00Z"), chrono_tz::UTC).is_some());
    }

    #[test]
    fn the_finding_names_the_zone_and_the_local_time() {
        use crate::diagnosis::evidence::{CxoneEvidence, CxoneFacts, Lookup};
        let facts = CxoneFacts {
            hours: Lookup::Found(weekdays_8_to_20()),
            time_zone: chrono_tz::Europe::Berlin,
            ..CxoneFacts::default()
        };
        let ev = Evidence {
            event: None,
            contact_id: None,
            cxone: CxoneEvidence::Checked(Box::new(CxoneFacts {
                contact: Lookup::Found(crate::cxone::types::Contact {
                    // 18:30 UTC on a Tuesday in summer is 20:30 in Berlin (CEST): closed.
                    contact_start_date: Some(at("2026-05-12T18:30:00Z")),
                    ..Default::default()
                }),
                ..facts
            })),
            required_context_keys: Vec::new(),
            now: at("2026-05-12T19:00:00Z"),
        };
        let f = OutsideHours.check(&ev).expect("closed in Berlin");
        assert!(
            f.message.contains("Tue 2026-05-12 20:30 CEST"),
            "{}",
            f.message
        );
        assert!(f.message.contains("Europe/Berlin"), "{}", f.message);
    }
}
