//! Reading the environment: variables (after loading `.env` from the working directory)
//! in one [`Env`] snapshot, and the [`ConfigError`] that names a wrong one.
//!
//! Every module parses its own settings from an `Env` (`crate::settings` assembles them),
//! so tests build settings from a map and never touch the process environment. This file
//! imports nothing of the crate.

use std::collections::HashMap;
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

#[cfg(test)]
mod tests {
    use super::*;

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
