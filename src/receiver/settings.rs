//! The receiver's settings: where it listens and how it authenticates webhooks.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use secrecy::SecretString;

use crate::config::{ConfigError, Env};

/// `WEBHOOK_TOLERANCE_SECS`: a day of clock skew. Zero would refuse nearly every signed
/// request (a second boundary between signing and checking).
const TOLERANCE_SECS: RangeInclusive<u64> = 1..=86_400;
/// `WEBHOOK_MAX_BODY_BYTES`: 16 MiB; an event is a few KiB.
const MAX_BODY_BYTES: RangeInclusive<usize> = 1..=16 * 1024 * 1024;
/// `RECEIVER_WORKERS`: HTTP worker threads.
const RECEIVER_WORKERS: RangeInclusive<usize> = 1..=512;

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

impl ReceiverSettings {
    /// Reads `LISTEN_ADDR`, `WEBHOOK_*` and `RECEIVER_WORKERS`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is wrong.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(ReceiverSettings {
            listen_addr: env.parse(
                "LISTEN_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                "an address such as 127.0.0.1:8080 or 0.0.0.0:8080",
            )?,
            signing_secrets: env.secrets("WEBHOOK_SIGNING_SECRETS"),
            api_keys: env.secrets("WEBHOOK_API_KEYS"),
            tolerance_secs: env.parse_in(
                "WEBHOOK_TOLERANCE_SECS",
                300,
                TOLERANCE_SECS,
                "a number of seconds",
            )?,
            max_body_bytes: env.parse_in(
                "WEBHOOK_MAX_BODY_BYTES",
                262_144,
                MAX_BODY_BYTES,
                "a number of bytes",
            )?,
            workers: env.parse_in(
                "RECEIVER_WORKERS",
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
                    .min(*RECEIVER_WORKERS.end()),
                RECEIVER_WORKERS,
                "a number of threads",
            )?,
        })
    }
}
