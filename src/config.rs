//! Configuration: environment variables (after loading `.env` from the working directory),
//! parsed once into typed settings per concern (CONTRACT.md section 3).
//!
//! Everything reads through an [`Env`] snapshot rather than `std::env`, so tests build
//! settings from a map and never touch the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use secrecy::SecretString;

/// A configuration problem; the message names the variable and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A snapshot of the variables.
///
/// Its `Debug` lists the variable names only: the snapshot holds every secret of the
/// configuration (webhook keys, `AMQP_URL`'s password, CXone and Slack/Teams credentials).
#[derive(Clone, Default)]
pub struct Env(HashMap<String, String>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env")
            .field("variables", &names)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Loads `.env` (if present; variables already set win) and snapshots the environment.
    pub fn load() -> Self {
        let _ = dotenvy::dotenv();
        Env(std::env::vars().collect())
    }

    /// An environment made of the given pairs (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// Sets a variable (tests, and command-line flags that win over the environment).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Parses a variable, naming it in the error.
    ///
    /// # Errors
    /// [`ConfigError`] naming `key` and what was expected.
    pub fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("{key}={v:?} is not {what}"))),
        }
    }

    /// Parses a variable that must lie in `range`, naming it and the range in the error.
    ///
    /// # Errors
    /// [`ConfigError`] naming `key` when the value does not parse or is out of range.
    pub fn parse_in<T>(
        &self,
        key: &str,
        default: T,
        range: RangeInclusive<T>,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<T>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ConfigError(format!(
                    "{key}={v:?} is not {what} from {} to {}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }

    /// A duration in seconds that may have a fraction (`0.5`): finite, above zero and at
    /// most `max_secs`. `Duration::from_secs_f64` panics on a negative, NaN or huge value, so
    /// nothing reaches it unchecked.
    ///
    /// # Errors
    /// [`ConfigError`] naming `key`.
    pub fn seconds_f64(
        &self,
        key: &str,
        default: Duration,
        max_secs: f64,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= max_secs)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| {
                ConfigError(format!(
                    "{key}={v:?} must be a number of seconds above 0 and at most {max_secs}, e.g. 5 or 0.5"
                ))
            })
    }

    /// A comma-separated list.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated list of secrets.
    pub fn secrets(&self, key: &str) -> Vec<SecretString> {
        self.list(key).into_iter().map(SecretString::from).collect()
    }
}

/// How logs are written (always to standard error; standard output is for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The receiver's settings.
#[derive(Clone)]
pub struct ReceiverSettings {
    /// `LISTEN_ADDR`.
    pub listen_addr: SocketAddr,
    /// `WEBHOOK_SIGNING_SECRETS`.
    pub signing_secrets: Vec<SecretString>,
    /// `WEBHOOK_API_KEYS`.
    pub api_keys: Vec<SecretString>,
    /// `WEBHOOK_TOLERANCE_SECS`.
    pub tolerance_secs: u64,
    /// `WEBHOOK_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// HTTP worker threads (`RECEIVER_WORKERS`, default: the number of cores).
    pub workers: usize,
}

/// The queue's settings.
#[derive(Clone)]
pub struct QueueSettings {
    /// `AMQP_URL`: the RabbitMQ node, or the nodes of one cluster; `None` = in-process
    /// queue.
    pub amqp_url: Option<crate::queue::nodes::Nodes>,
    /// `QUEUE_PREFIX`.
    pub prefix: String,
    /// `QUEUE_CONFIRM_TIMEOUT_SECS` (default 5): how long a publish waits for the
    /// broker's confirm before the receiver answers 503.
    pub confirm_timeout: Duration,
}

/// The worker's settings.
#[derive(Clone)]
pub struct WorkerSettings {
    /// `WORKER_CONCURRENCY`.
    pub concurrency: usize,
    /// `REQUIRED_CONTEXT_KEYS`.
    pub required_context_keys: Vec<String>,
    /// `RETRY_DELAYS_SECS` (default `10,60,300`): waits before retrying a job that failed
    /// for a transient reason (CXone or broker unreachable); after the last, the job is
    /// diagnosed with what is known.
    pub retry_delays: Vec<Duration>,
    /// `RECHECK_DELAYS_SECS` (default `60,180,600`): waits before re-checking a contact
    /// whose CXone data was still pending.
    pub recheck_delays: Vec<Duration>,
    /// `SCAN_INTERVAL_SECS`.
    pub scan_interval: Option<Duration>,
    /// `SCAN_SKILLS`.
    pub scan_skills: Vec<String>,
    /// `SCAN_LOOKBACK_SECS` (default [`crate::scan::DEFAULT_LOOKBACK`]): how far before the
    /// last periodic window's end the next one starts.
    pub scan_lookback: Duration,
}

/// Every setting.
#[derive(Clone)]
pub struct Settings {
    /// Receiver.
    pub receiver: ReceiverSettings,
    /// Queue.
    pub queue: QueueSettings,
    /// Worker.
    pub worker: WorkerSettings,
    /// CXone (`CXONE_*`).
    pub cxone: crate::cxone::CxoneSettings,
    /// Notifications (`SLACK_WEBHOOK_URL`, `TEAMS_WEBHOOK_URL`, `NOTIFY_*`).
    pub notify: crate::notify::NotifySettings,
    /// `LOG_FORMAT`, when set.
    pub log_format: Option<LogFormat>,
    /// The raw snapshot, for the parts that parse their own settings.
    pub env: Env,
}

/// Bounds of the numeric variables. Each keeps a value from overflowing where it is used
/// (an `Instant` plus a duration panics on overflow; a `u64` cast to `i64` wraps) or from
/// being refused later by the broker, and is far beyond any sensible setting.
pub mod limits {
    /// `WEBHOOK_TOLERANCE_SECS`: a day of clock skew. Zero would refuse nearly every signed
    /// request (a second boundary between signing and checking).
    pub const TOLERANCE_SECS: std::ops::RangeInclusive<u64> = 1..=86_400;
    /// `WEBHOOK_MAX_BODY_BYTES`: 16 MiB; an event is a few KiB.
    pub const MAX_BODY_BYTES: std::ops::RangeInclusive<usize> = 1..=16 * 1024 * 1024;
    /// `RECEIVER_WORKERS`: HTTP worker threads.
    pub const RECEIVER_WORKERS: std::ops::RangeInclusive<usize> = 1..=512;
    /// `QUEUE_CONFIRM_TIMEOUT_SECS`: a sender gives up long before ten minutes.
    pub const CONFIRM_TIMEOUT_MAX_SECS: f64 = 600.0;
    /// `WORKER_CONCURRENCY`.
    pub const WORKER_CONCURRENCY: std::ops::RangeInclusive<usize> = 1..=1000;
    /// Each of `RETRY_DELAYS_SECS` / `RECHECK_DELAYS_SECS`: a week. A delay queue's
    /// `x-message-ttl` in milliseconds must stay under RabbitMQ's 2^32 ms (49 days), or
    /// declaring the topology fails with 406 on every reconnect.
    pub const DELAY_SECS: std::ops::RangeInclusive<u64> = 1..=7 * 86_400;
    /// `SCAN_INTERVAL_SECS` (0 = off): the scan never looks further back than a day.
    pub const SCAN_INTERVAL_SECS: std::ops::RangeInclusive<u64> = 0..=86_400;
    /// The durations other modules parse (`NOTIFY_*_SECS`, `CXONE_CACHE_TTL_SECS`): 30 days.
    pub const OTHER_DURATION_SECS: u64 = 30 * 86_400;
}

fn delays(env: &Env, key: &str, default: &[u64]) -> Result<Vec<Duration>, ConfigError> {
    let list = env.list(key);
    if list.is_empty() {
        return Ok(default.iter().map(|s| Duration::from_secs(*s)).collect());
    }
    list.iter()
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|n| limits::DELAY_SECS.contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{key} must be comma-separated whole seconds from {} to {}, e.g. 60,180,600",
                        limits::DELAY_SECS.start(),
                        limits::DELAY_SECS.end()
                    ))
                })
        })
        .collect()
}

impl Settings {
    /// Parses every setting of this crate.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is wrong.
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let listen_addr = env.parse(
            "LISTEN_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address such as 127.0.0.1:8080 or 0.0.0.0:8080",
        )?;
        let receiver = ReceiverSettings {
            listen_addr,
            signing_secrets: env.secrets("WEBHOOK_SIGNING_SECRETS"),
            api_keys: env.secrets("WEBHOOK_API_KEYS"),
            tolerance_secs: env.parse_in(
                "WEBHOOK_TOLERANCE_SECS",
                300,
                limits::TOLERANCE_SECS,
                "a number of seconds",
            )?,
            max_body_bytes: env.parse_in(
                "WEBHOOK_MAX_BODY_BYTES",
                262_144,
                limits::MAX_BODY_BYTES,
                "a number of bytes",
            )?,
            workers: env.parse_in(
                "RECEIVER_WORKERS",
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
                    .min(*limits::RECEIVER_WORKERS.end()),
                limits::RECEIVER_WORKERS,
                "a number of threads",
            )?,
        };
        let amqp_url = env
            .get("AMQP_URL")
            .map(|u| crate::queue::nodes::Nodes::parse(&u))
            .transpose()
            .map_err(|e| ConfigError(e.to_string()))?;
        let prefix = env
            .get("QUEUE_PREFIX")
            .unwrap_or_else(|| "handover-doctor".into());
        if prefix.len() > 200 || prefix.chars().any(|c| c.is_whitespace()) {
            return Err(ConfigError(
                "QUEUE_PREFIX must be at most 200 characters without spaces".into(),
            ));
        }
        let queue = QueueSettings {
            amqp_url,
            prefix,
            confirm_timeout: env.seconds_f64(
                "QUEUE_CONFIRM_TIMEOUT_SECS",
                Duration::from_secs(5),
                limits::CONFIRM_TIMEOUT_MAX_SECS,
            )?,
        };
        let concurrency: usize = env.parse_in(
            "WORKER_CONCURRENCY",
            8,
            limits::WORKER_CONCURRENCY,
            "a whole number",
        )?;
        let required_context_keys = match env.get("REQUIRED_CONTEXT_KEYS") {
            None => vec!["routingData".into(), "customerInfo".into()],
            Some(_) => env.list("REQUIRED_CONTEXT_KEYS"),
        };
        let worker = WorkerSettings {
            concurrency,
            required_context_keys,
            retry_delays: delays(&env, "RETRY_DELAYS_SECS", &[10, 60, 300])?,
            recheck_delays: delays(&env, "RECHECK_DELAYS_SECS", &[60, 180, 600])?,
            scan_interval: Some(Duration::from_secs(env.parse_in(
                "SCAN_INTERVAL_SECS",
                0,
                limits::SCAN_INTERVAL_SECS,
                "a number of seconds (0 = no periodic scan)",
            )?))
            .filter(|d| !d.is_zero()),
            scan_skills: env.list("SCAN_SKILLS"),
            scan_lookback: crate::scan::lookback_from_env(&env)?,
        };
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None => None,
            Some("pretty") => Some(LogFormat::Pretty),
            Some("json") => Some(LogFormat::Json),
            Some(other) => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT={other:?} must be pretty or json"
                )));
            }
        };
        // Checked here so a bad value fails like any other setting; `main` applies it
        // before the runtime starts (see `crate::sched`).
        crate::sched::SchedPolicy::from_env(&env)?;
        let cxone = crate::cxone::CxoneSettings::from_env_map(|k| env.get(k))
            .map_err(|e| ConfigError(e.to_string()))?;
        let notify = crate::notify::NotifySettings::from_env_map(|k| env.get(k))
            .map_err(|e| ConfigError(e.to_string()))?;
        // Those modules take any whole number of seconds; a huge one would overflow where it
        // is added to an `Instant` (a panic at the first notification or cache entry).
        for (key, d) in [
            ("NOTIFY_GROUP_WAIT_SECS", notify.group_wait),
            ("NOTIFY_GROUP_INTERVAL_SECS", notify.group_interval),
            ("NOTIFY_DEDUP_TTL_SECS", notify.dedup_ttl),
            ("CXONE_CACHE_TTL_SECS", cxone.cache_ttl),
        ] {
            if d.as_secs() > limits::OTHER_DURATION_SECS {
                return Err(ConfigError(format!(
                    "{key} must be at most {} seconds (30 days)",
                    limits::OTHER_DURATION_SECS
                )));
            }
        }
        Ok(Settings {
            cxone,
            notify,
            receiver,
            queue,
            worker,
            log_format,
            env,
        })
    }

    /// Every delay queue the topology needs: retries and re-checks.
    pub fn retry_delays(&self) -> Vec<Duration> {
        let mut d = self.worker.retry_delays.clone();
        d.extend(self.worker.recheck_delays.iter().copied());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::from_env(Env::default()).unwrap();
        assert_eq!(s.receiver.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.receiver.tolerance_secs, 300);
        assert_eq!(s.receiver.max_body_bytes, 262_144);
        assert_eq!(s.queue.prefix, "handover-doctor");
        assert!(s.queue.amqp_url.is_none());
        assert_eq!(s.worker.concurrency, 8);
        assert_eq!(
            s.worker.required_context_keys,
            ["routingData", "customerInfo"]
        );
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = Settings::from_env(Env::from_pairs([("WORKER_CONCURRENCY", "many")]))
            .err()
            .unwrap();
        assert!(err.0.contains("WORKER_CONCURRENCY"), "{err}");
        let err = Settings::from_env(Env::from_pairs([("AMQP_URL", "localhost")]))
            .err()
            .unwrap();
        assert!(err.0.contains("AMQP_URL"), "{err}");
    }

    fn error_for(key: &str, value: &str) -> String {
        match Settings::from_env(Env::from_pairs([(key, value)])) {
            Ok(_) => panic!("{key}={value:?} was accepted"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_confirm_timeout_that_is_not_a_positive_finite_number_is_a_config_error_not_a_panic() {
        // Each of these made Duration::from_secs_f64 panic (exit 101) or meant "never wait".
        for bad in ["-1", "NaN", "inf", "-inf", "0", "1e30", "601", "soon"] {
            let err = error_for("QUEUE_CONFIRM_TIMEOUT_SECS", bad);
            assert!(err.contains("QUEUE_CONFIRM_TIMEOUT_SECS"), "{bad}: {err}");
        }
        let s =
            Settings::from_env(Env::from_pairs([("QUEUE_CONFIRM_TIMEOUT_SECS", "0.5")])).unwrap();
        assert_eq!(s.queue.confirm_timeout, Duration::from_millis(500));
        let s = Settings::from_env(Env::default()).unwrap();
        assert_eq!(s.queue.confirm_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_tolerance_that_would_wrap_or_refuse_everything_is_a_config_error() {
        for bad in [
            "9223372036854775808",
            "18446744073709551615",
            "86401",
            "0",
            "-5",
        ] {
            let err = error_for("WEBHOOK_TOLERANCE_SECS", bad);
            assert!(err.contains("WEBHOOK_TOLERANCE_SECS"), "{bad}: {err}");
        }
        let s = Settings::from_env(Env::from_pairs([("WEBHOOK_TOLERANCE_SECS", "86400")])).unwrap();
        assert_eq!(s.receiver.tolerance_secs, 86_400);
    }

    #[test]
    fn every_numeric_variable_out_of_its_range_names_itself() {
        let cases = [
            ("WEBHOOK_MAX_BODY_BYTES", "0"),
            ("WEBHOOK_MAX_BODY_BYTES", "18446744073709551615"),
            ("RECEIVER_WORKERS", "0"),
            ("RECEIVER_WORKERS", "100000"),
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "1001"),
            ("RETRY_DELAYS_SECS", "10,0"),
            // 2^32 ms and more: RabbitMQ refuses the delay queue's x-message-ttl.
            ("RECHECK_DELAYS_SECS", "60,4294968"),
            ("RETRY_DELAYS_SECS", "18446744073709551615"),
            ("SCAN_INTERVAL_SECS", "86401"),
            ("SCAN_INTERVAL_SECS", "18446744073709551615"),
            // Parsed by the notify and CXone settings; an Instant plus this panicked.
            ("NOTIFY_GROUP_WAIT_SECS", "18446744073709551615"),
            ("NOTIFY_GROUP_INTERVAL_SECS", "18446744073709551615"),
            ("NOTIFY_DEDUP_TTL_SECS", "18446744073709551615"),
            ("CXONE_CACHE_TTL_SECS", "18446744073709551615"),
        ];
        for (key, bad) in cases {
            let err = error_for(key, bad);
            assert!(err.contains(key), "{key}={bad}: {err}");
        }
        let s = Settings::from_env(Env::from_pairs([
            ("SCAN_INTERVAL_SECS", "0"),
            ("RECHECK_DELAYS_SECS", "604800"),
            ("RECEIVER_WORKERS", "512"),
        ]))
        .unwrap();
        assert_eq!(s.worker.scan_interval, None);
        assert_eq!(s.worker.recheck_delays, [Duration::from_secs(604_800)]);
        assert_eq!(s.receiver.workers, 512);
    }

    #[test]
    fn the_debug_of_the_snapshot_shows_names_never_values() {
        let env = Env::from_pairs([
            ("WEBHOOK_API_KEYS", "key-that-must-not-leak"),
            ("AMQP_URL", "amqp://u:hunter2@broker/%2f"),
        ]);
        let shown = format!("{env:?}");
        assert!(
            shown.contains("WEBHOOK_API_KEYS") && shown.contains("AMQP_URL"),
            "{shown}"
        );
        assert!(
            !shown.contains("key-that-must-not-leak") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
