//! Notification settings (CONTRACT.md section 3): where messages go and how they are
//! grouped, de-duplicated and paced.
//!
//! The webhook URLs are credentials (a Slack hook path, a Teams `sig=`), so they are never
//! printed: `Debug` shows the host only, and parse errors name the variable, not the value.

use std::fmt;
use std::time::Duration;

use url::Url;

/// `NOTIFY_GROUP_WAIT_SECS` default.
pub const DEFAULT_GROUP_WAIT_SECS: u64 = 30;
/// `NOTIFY_GROUP_INTERVAL_SECS` default (Alertmanager's `group_interval`).
pub const DEFAULT_GROUP_INTERVAL_SECS: u64 = 300;
/// `NOTIFY_DEDUP_TTL_SECS` default.
pub const DEFAULT_DEDUP_TTL_SECS: u64 = 3600;
/// `NOTIFY_MAX_PENDING` default: reports the notifier may hold unacked while they wait
/// for their group's message. A held report costs a few KB, so 10,000 stay well under
/// 100 MB, and a minute-long storm of 10,000 failures never fills it.
pub const DEFAULT_MAX_PENDING: u16 = 10_000;

/// How grouping, de-duplication, pacing and delivery behave.
#[derive(Clone, PartialEq)]
pub struct NotifySettings {
    /// `SLACK_WEBHOOK_URL`: a Slack incoming webhook. Secret.
    pub slack_webhook_url: Option<Url>,
    /// `TEAMS_WEBHOOK_URL`: a Teams Workflows webhook. Secret (`sig=`).
    pub teams_webhook_url: Option<Url>,
    /// `NOTIFY_GROUP_WAIT_SECS`: how long a new group collects failures before its first
    /// message. Zero sends each diagnosis at once, on its own.
    pub group_wait: Duration,
    /// `NOTIFY_GROUP_INTERVAL_SECS`: a group already announced sends what arrived since
    /// as one update at most this often; a group with nothing new for this long is
    /// forgotten (the next failure starts a new group).
    pub group_interval: Duration,
    /// `NOTIFY_DEDUP_TTL_SECS`: the same event id is notified once within this time.
    pub dedup_ttl: Duration,
    /// `NOTIFY_MAX_PENDING`: how many reports the notifier holds unacked at most (the
    /// prefetch of its `P.reports` consumer). A report is acked only once it is
    /// delivered, so a report waiting for its group's next message occupies a place;
    /// when nine in ten places are taken, the groups holding the most waiting reports
    /// send their update early rather than leave the queue stalled until their interval.
    pub max_pending: u16,
    /// Least time between two requests to one destination (Slack allows ~1/s per hook).
    pub min_interval: Duration,
    /// Bound on one HTTP request to Slack or Teams.
    pub request_timeout: Duration,
    /// Attempts per message and destination before giving up until the group's next
    /// interval (a 429 counts as an attempt).
    pub max_attempts: u32,
    /// First back-off after a 5xx or timeout; doubles per attempt.
    pub backoff_base: Duration,
    /// Longest back-off between attempts after 5xx or timeouts.
    pub backoff_max: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            slack_webhook_url: None,
            teams_webhook_url: None,
            group_wait: Duration::from_secs(DEFAULT_GROUP_WAIT_SECS),
            group_interval: Duration::from_secs(DEFAULT_GROUP_INTERVAL_SECS),
            dedup_ttl: Duration::from_secs(DEFAULT_DEDUP_TTL_SECS),
            max_pending: DEFAULT_MAX_PENDING,
            min_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            max_attempts: 6,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// A notification variable that cannot be used; the message names the variable and never
/// repeats a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A webhook URL that does not parse or is not http(s).
    #[error("{var} is not a usable http(s) URL: {reason}")]
    InvalidUrl {
        /// The variable, e.g. `SLACK_WEBHOOK_URL`.
        var: &'static str,
        /// Why, without the value.
        reason: String,
    },
    /// A count outside its allowed range.
    #[error("{var} must be a whole number from {min} to {max}, got {value:?}")]
    InvalidCount {
        /// The variable, e.g. `NOTIFY_MAX_PENDING`.
        var: &'static str,
        /// The value as given.
        value: String,
        /// Least allowed.
        min: u64,
        /// Most allowed.
        max: u64,
    },
    /// A duration that is not a whole number of seconds.
    #[error("{var} must be a whole number of seconds, got {value:?}")]
    InvalidSeconds {
        /// The variable, e.g. `NOTIFY_GROUP_WAIT_SECS`.
        var: &'static str,
        /// The value as given (durations are not secret).
        value: String,
    },
}

impl SettingsError {
    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            SettingsError::InvalidUrl { var, .. }
            | SettingsError::InvalidSeconds { var, .. }
            | SettingsError::InvalidCount { var, .. } => var,
        }
    }
}

impl NotifySettings {
    /// Reads the `SLACK_WEBHOOK_URL`, `TEAMS_WEBHOOK_URL` and `NOTIFY_*` variables through
    /// `get` (empty = unset), with the defaults of CONTRACT.md section 3 for the rest.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first variable that cannot be used.
    pub fn from_env_map(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let url = |name: &'static str| -> Result<Option<Url>, SettingsError> {
            var(name).map(|v| parse_url(name, &v)).transpose()
        };
        let secs = |name: &'static str, default: u64| -> Result<Duration, SettingsError> {
            match var(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v.parse::<u64>().map(Duration::from_secs).map_err(|_| {
                    SettingsError::InvalidSeconds {
                        var: name,
                        value: v,
                    }
                }),
            }
        };
        Ok(NotifySettings {
            slack_webhook_url: url("SLACK_WEBHOOK_URL")?,
            teams_webhook_url: url("TEAMS_WEBHOOK_URL")?,
            group_wait: secs("NOTIFY_GROUP_WAIT_SECS", DEFAULT_GROUP_WAIT_SECS)?,
            group_interval: secs("NOTIFY_GROUP_INTERVAL_SECS", DEFAULT_GROUP_INTERVAL_SECS)?,
            dedup_ttl: secs("NOTIFY_DEDUP_TTL_SECS", DEFAULT_DEDUP_TTL_SECS)?,
            max_pending: match var("NOTIFY_MAX_PENDING") {
                None => DEFAULT_MAX_PENDING,
                // The AMQP prefetch count is 16 bits.
                Some(v) => v.parse::<u16>().ok().filter(|n| *n >= 1).ok_or(
                    SettingsError::InvalidCount {
                        var: "NOTIFY_MAX_PENDING",
                        value: v,
                        min: 1,
                        max: u64::from(u16::MAX),
                    },
                )?,
            },
            ..NotifySettings::default()
        })
    }

    /// [`NotifySettings::from_env_map`] over the process environment.
    ///
    /// # Errors
    /// As [`NotifySettings::from_env_map`].
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_env_map(|k| std::env::var(k).ok())
    }

    /// True when neither Slack nor Teams is configured: messages go to standard output.
    pub fn uses_stdout(&self) -> bool {
        self.slack_webhook_url.is_none() && self.teams_webhook_url.is_none()
    }
}

fn parse_url(var: &'static str, value: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(value).map_err(|e| SettingsError::InvalidUrl {
        var,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingsError::InvalidUrl {
            var,
            reason: format!("scheme {:?} is not http or https", url.scheme()),
        });
    }
    if url.host_str().is_none() {
        return Err(SettingsError::InvalidUrl {
            var,
            reason: "it has no host".to_string(),
        });
    }
    Ok(url)
}

/// What may be logged about a webhook URL: its host.
pub fn url_host(url: &Url) -> &str {
    url.host_str().unwrap_or("?")
}

impl fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |u: &Option<Url>| {
            u.as_ref()
                .map(|u| format!("https://{}/<redacted>", url_host(u)))
        };
        f.debug_struct("NotifySettings")
            .field("slack_webhook_url", &redact(&self.slack_webhook_url))
            .field("teams_webhook_url", &redact(&self.teams_webhook_url))
            .field("group_wait", &self.group_wait)
            .field("group_interval", &self.group_interval)
            .field("dedup_ttl", &self.dedup_ttl)
            .field("max_pending", &self.max_pending)
            .field("min_interval", &self.min_interval)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = NotifySettings::from_env_map(env(&[])).unwrap();
        assert_eq!(s.group_wait, Duration::from_secs(30));
        assert_eq!(s.group_interval, Duration::from_secs(300));
        assert_eq!(s.dedup_ttl, Duration::from_secs(3600));
        assert!(s.uses_stdout());
    }

    #[test]
    fn variables_are_read_and_empty_means_unset() {
        let s = NotifySettings::from_env_map(env(&[
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/XXXX",
            ),
            ("TEAMS_WEBHOOK_URL", ""),
            ("NOTIFY_GROUP_WAIT_SECS", "0"),
            ("NOTIFY_GROUP_INTERVAL_SECS", " 60 "),
            ("NOTIFY_DEDUP_TTL_SECS", "10"),
        ]))
        .unwrap();
        assert!(s.slack_webhook_url.is_some());
        assert!(s.teams_webhook_url.is_none());
        assert_eq!(s.group_wait, Duration::ZERO);
        assert_eq!(s.group_interval, Duration::from_secs(60));
        assert_eq!(s.dedup_ttl, Duration::from_secs(10));
        assert!(!s.uses_stdout());
    }

    #[test]
    fn a_bad_duration_names_its_variable() {
        let err =
            NotifySettings::from_env_map(env(&[("NOTIFY_GROUP_INTERVAL_SECS", "5m")])).unwrap_err();
        assert_eq!(err.variable(), "NOTIFY_GROUP_INTERVAL_SECS");
        assert!(err.to_string().contains("NOTIFY_GROUP_INTERVAL_SECS"));
    }

    #[test]
    fn max_pending_is_a_prefetch_count_from_1_to_65535() {
        let s = NotifySettings::from_env_map(env(&[])).unwrap();
        assert_eq!(s.max_pending, 10_000);
        let s = NotifySettings::from_env_map(env(&[("NOTIFY_MAX_PENDING", "65535")])).unwrap();
        assert_eq!(s.max_pending, 65_535);
        for bad in ["0", "65536", "-1", "many"] {
            let err =
                NotifySettings::from_env_map(env(&[("NOTIFY_MAX_PENDING", bad)])).unwrap_err();
            assert_eq!(err.variable(), "NOTIFY_MAX_PENDING", "{bad}");
            assert!(err.to_string().contains("1 to 65535"), "{err}");
        }
    }

    #[test]
    fn a_bad_url_names_its_variable_without_repeating_the_secret() {
        let err = NotifySettings::from_env_map(env(&[(
            "TEAMS_WEBHOOK_URL",
            "ftp://prod-01.westeurope.logic.azure.com/workflows/x?sig=SECRETSIG",
        )]))
        .unwrap_err();
        assert_eq!(err.variable(), "TEAMS_WEBHOOK_URL");
        assert!(!err.to_string().contains("SECRETSIG"), "{err}");
        let err =
            NotifySettings::from_env_map(env(&[("SLACK_WEBHOOK_URL", "not a url")])).unwrap_err();
        assert_eq!(err.variable(), "SLACK_WEBHOOK_URL");
    }

    #[test]
    fn debug_shows_the_host_and_hides_the_path_and_signature() {
        let s = NotifySettings::from_env_map(env(&[(
            "TEAMS_WEBHOOK_URL",
            "https://prod-01.westeurope.logic.azure.com/workflows/abc?sig=SECRETSIG",
        )]))
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(dbg.contains("prod-01.westeurope.logic.azure.com"), "{dbg}");
        assert!(!dbg.contains("SECRETSIG"), "{dbg}");
        assert!(!dbg.contains("workflows"), "{dbg}");
    }
}
