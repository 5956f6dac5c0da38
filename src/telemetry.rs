//! Logging: `tracing` to standard error, pretty on a terminal and JSON otherwise
//! (`LOG_FORMAT` overrides), filtered by `RUST_LOG` (default `info`). Standard output
//! stays clean for reports and notifications.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, Env};

/// How logs are written (always to standard error; standard output is for reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `LOG_FORMAT`; unset = `None` (chosen by whether standard error is a terminal).
    ///
    /// # Errors
    /// [`ConfigError`] naming `LOG_FORMAT` when it is neither `pretty` nor `json`.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        match env.get("LOG_FORMAT").as_deref() {
            None => Ok(None),
            Some("pretty") => Ok(Some(LogFormat::Pretty)),
            Some("json") => Ok(Some(LogFormat::Json)),
            Some(other) => Err(ConfigError(format!(
                "LOG_FORMAT={other:?} must be pretty or json"
            ))),
        }
    }
}

/// Installs the global subscriber once; later calls are ignored (tests). `quiet` makes the
/// default filter `warn` instead of `info` (`RUST_LOG` still wins): for `serve` printing its
/// notifications on the same terminal, where a line per job would bury them.
pub fn init(format: Option<LogFormat>, quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
