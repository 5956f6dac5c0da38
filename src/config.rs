//! Configuration: environment variables (after loading `.env` from the working directory),
//! parsed once into typed settings per concern (CONTRACT.md section 3).
//!
//! Everything reads through an [`Env`] snapshot rather than `std::env`, so tests build
//! settings from a map and never touch the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;

/// A configuration problem; the message names the variable and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A snapshot of the variables.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

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
    /// `AMQP_URL`; `None` = in-process queue.
    pub amqp_url: Option<SecretString>,
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

fn delays(env: &Env, key: &str, default: &[u64]) -> Result<Vec<Duration>, ConfigError> {
    let list = env.list(key);
    if list.is_empty() {
        return Ok(default.iter().map(|s| Duration::from_secs(*s)).collect());
    }
    list.iter()
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{key} must be comma-separated whole seconds, e.g. 60,180,600"
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
            tolerance_secs: env.parse("WEBHOOK_TOLERANCE_SECS", 300, "a number of seconds")?,
            max_body_bytes: env.parse("WEBHOOK_MAX_BODY_BYTES", 262_144, "a number of bytes")?,
            workers: env.parse(
                "RECEIVER_WORKERS",
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
                "a number of threads",
            )?,
        };
        if receiver.max_body_bytes == 0 {
            return Err(ConfigError("WEBHOOK_MAX_BODY_BYTES must be above 0".into()));
        }
        let amqp_url = env.get("AMQP_URL");
        if let Some(u) = &amqp_url
            && !(u.starts_with("amqp://") || u.starts_with("amqps://"))
        {
            return Err(ConfigError(
                "AMQP_URL must start with amqp:// or amqps://, e.g. amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            ));
        }
        let prefix = env
            .get("QUEUE_PREFIX")
            .unwrap_or_else(|| "handover-doctor".into());
        if prefix.len() > 200 || prefix.chars().any(|c| c.is_whitespace()) {
            return Err(ConfigError(
                "QUEUE_PREFIX must be at most 200 characters without spaces".into(),
            ));
        }
        let queue = QueueSettings {
            amqp_url: amqp_url.map(SecretString::from),
            prefix,
            confirm_timeout: Duration::from_secs_f64(env.parse(
                "QUEUE_CONFIRM_TIMEOUT_SECS",
                5.0,
                "a number of seconds",
            )?),
        };
        let concurrency: usize = env.parse("WORKER_CONCURRENCY", 8, "a whole number")?;
        if concurrency == 0 || concurrency > 1000 {
            return Err(ConfigError(
                "WORKER_CONCURRENCY must be between 1 and 1000".into(),
            ));
        }
        let required_context_keys = match env.get("REQUIRED_CONTEXT_KEYS") {
            None => vec!["routingData".into(), "customerInfo".into()],
            Some(_) => env.list("REQUIRED_CONTEXT_KEYS"),
        };
        let worker = WorkerSettings {
            concurrency,
            required_context_keys,
            retry_delays: delays(&env, "RETRY_DELAYS_SECS", &[10, 60, 300])?,
            recheck_delays: delays(&env, "RECHECK_DELAYS_SECS", &[60, 180, 600])?,
            scan_interval: match env.get("SCAN_INTERVAL_SECS") {
                None => None,
                Some(_) => Some(Duration::from_secs(env.parse(
                    "SCAN_INTERVAL_SECS",
                    0u64,
                    "a number of seconds",
                )?))
                .filter(|d| !d.is_zero()),
            },
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
        let cxone = crate::cxone::CxoneSettings::from_env_map(|k| env.get(k))
            .map_err(|e| ConfigError(e.to_string()))?;
        let notify = crate::notify::NotifySettings::from_env_map(|k| env.get(k))
            .map_err(|e| ConfigError(e.to_string()))?;
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
}
