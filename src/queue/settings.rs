//! The queue's settings: which broker, under which prefix, and how long a publish waits
//! for its confirm.

use std::time::Duration;

use super::nodes::Nodes;
use crate::config::{ConfigError, Env};

/// `QUEUE_CONFIRM_TIMEOUT_SECS`: a sender gives up long before ten minutes.
const CONFIRM_TIMEOUT_MAX_SECS: f64 = 600.0;

/// The queue's settings.
#[derive(Clone)]
pub struct QueueSettings {
    /// `AMQP_URL`: the RabbitMQ node, or the nodes of one cluster; `None` = in-process
    /// queue.
    pub amqp_url: Option<Nodes>,
    /// `QUEUE_PREFIX`.
    pub prefix: String,
    /// `QUEUE_CONFIRM_TIMEOUT_SECS` (default 5): how long a publish waits for the
    /// broker's confirm before the receiver answers 503.
    pub confirm_timeout: Duration,
}

impl QueueSettings {
    /// Reads `AMQP_URL` and `QUEUE_*`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is wrong.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let amqp_url = env
            .get("AMQP_URL")
            .map(|u| Nodes::parse(&u))
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
        Ok(QueueSettings {
            amqp_url,
            prefix,
            confirm_timeout: env.seconds_f64(
                "QUEUE_CONFIRM_TIMEOUT_SECS",
                Duration::from_secs(5),
                CONFIRM_TIMEOUT_MAX_SECS,
            )?,
        })
    }
}
