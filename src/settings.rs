//! Every setting of the service (CONTRACT.md section 3), assembled from each module's own
//! settings type, each parsed from the same [`Env`] snapshot.

use crate::config::{ConfigError, Env};
use crate::cxone::CxoneSettings;
use crate::notify::NotifySettings;
use crate::queue::QueueSettings;
use crate::receiver::ReceiverSettings;
use crate::telemetry::LogFormat;
use crate::worker::WorkerSettings;

/// The durations the notify and CXone settings take as any whole number of seconds
/// (`NOTIFY_*_SECS`, `CXONE_CACHE_TTL_SECS`): 30 days. A huge one would overflow where it is
/// added to an `Instant` (a panic at the first notification or cache entry).
const OTHER_DURATION_SECS: u64 = 30 * 86_400;

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
    pub cxone: CxoneSettings,
    /// Notifications (`SLACK_WEBHOOK_URL`, `TEAMS_WEBHOOK_URL`, `NOTIFY_*`).
    pub notify: NotifySettings,
    /// `LOG_FORMAT`, when set.
    pub log_format: Option<LogFormat>,
    /// The raw snapshot, for the parts that parse their own settings.
    pub env: Env,
}

impl Settings {
    /// Parses every setting of this crate.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is wrong.
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let receiver = ReceiverSettings::from_env(&env)?;
        let queue = QueueSettings::from_env(&env)?;
        let worker = WorkerSettings::from_env(&env)?;
        let log_format = LogFormat::from_env(&env)?;
        let cxone =
            CxoneSettings::from_env_map(|k| env.get(k)).map_err(|e| ConfigError(e.to_string()))?;
        let notify =
            NotifySettings::from_env_map(|k| env.get(k)).map_err(|e| ConfigError(e.to_string()))?;
        for (key, d) in [
            ("NOTIFY_GROUP_WAIT_SECS", notify.group_wait),
            ("NOTIFY_GROUP_INTERVAL_SECS", notify.group_interval),
            ("NOTIFY_DEDUP_TTL_SECS", notify.dedup_ttl),
            ("CXONE_CACHE_TTL_SECS", cxone.cache_ttl),
        ] {
            if d.as_secs() > OTHER_DURATION_SECS {
                return Err(ConfigError(format!(
                    "{key} must be at most {OTHER_DURATION_SECS} seconds (30 days)"
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
