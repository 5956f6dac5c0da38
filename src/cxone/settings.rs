//! How to reach CXone: the issuer, the two credential pairs, and the client's timing
//! (timeout, retries, cache), parsed once from the environment.
//!
//! Parsing takes a lookup function rather than reading `std::env` itself, so the lead's
//! configuration layer (and tests) decide where values come from.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The production issuer: discovery starts at `{issuer}/.well-known/openid-configuration`.
pub const DEFAULT_ISSUER: &str = "https://cxone.niceincontact.com";

/// The API version the Cognigy CXone extension uses, so both sides see the same semantics.
pub const DEFAULT_API_VERSION: &str = "v30.0";

/// Everything the CXone client needs.
///
/// `Debug` is safe to print: secrets are [`SecretString`]s and print as redacted.
#[derive(Debug, Clone)]
pub struct CxoneSettings {
    /// `CXONE_ISSUER`.
    pub issuer: Url,
    /// `CXONE_CLIENT_ID`: the registered back-end application.
    pub client_id: Option<String>,
    /// `CXONE_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// `CXONE_ACCESS_KEY_ID`: the API user's access key (the password grant's `username`).
    pub access_key_id: Option<SecretString>,
    /// `CXONE_ACCESS_KEY_SECRET` (the password grant's `password`).
    pub access_key_secret: Option<SecretString>,
    /// `CXONE_API_URL`: replaces the discovered `api_endpoint` when set.
    pub api_url_override: Option<Url>,
    /// `CXONE_API_VERSION`, e.g. `v30.0`.
    pub api_version: String,
    /// Limit on one HTTP request, connect to last body byte.
    pub request_timeout: Duration,
    /// `CXONE_CACHE_TTL_SECS`: how long skill-level look-ups (skill, agents, activity,
    /// hours) are reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// Retries after the first attempt, for timeouts, connect errors, 429 and 5xx.
    pub max_retries: u32,
    /// Total time one call may spend retrying, waits included.
    pub retry_budget: Duration,
    /// First backoff step; each retry doubles it (with jitter) up to `retry_max_delay`.
    pub retry_base_delay: Duration,
    /// Largest backoff step.
    pub retry_max_delay: Duration,
    /// Largest `Retry-After` we honour; a longer one is cut to this.
    pub retry_after_cap: Duration,
    /// `CXONE_TIME_ZONE`: the business unit's time zone (IANA name), in which CXone's
    /// hours-of-operation profiles give their times; no documented API reads it, so it is
    /// configured. Default `UTC`.
    pub time_zone: chrono_tz::Tz,
    /// `CXONE_MAX_RPS`: at most this many requests to CXone per second from this process,
    /// token and discovery included; `0` = no limit. Default [`DEFAULT_MAX_RPS`].
    pub max_rps: u32,
}

/// CONTRACT.md section 3: the tenant's API quota is shared with every other integration.
pub const DEFAULT_MAX_RPS: u32 = 10;

impl Default for CxoneSettings {
    /// The defaults of CONTRACT.md section 3, with no credentials (not configured).
    fn default() -> Self {
        CxoneSettings {
            issuer: Url::parse(DEFAULT_ISSUER).expect("the default issuer is a URL"),
            client_id: None,
            client_secret: None,
            access_key_id: None,
            access_key_secret: None,
            api_url_override: None,
            api_version: DEFAULT_API_VERSION.to_string(),
            request_timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(10),
            max_retries: 4,
            retry_budget: Duration::from_secs(30),
            retry_base_delay: Duration::from_millis(250),
            retry_max_delay: Duration::from_secs(4),
            retry_after_cap: Duration::from_secs(10),
            time_zone: chrono_tz::UTC,
            max_rps: DEFAULT_MAX_RPS,
        }
    }
}

/// A CXone variable with a value we cannot use; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {detail}")]
pub struct CxoneConfigError {
    /// The environment variable, e.g. `CXONE_ISSUER`.
    pub variable: &'static str,
    /// The rest of the sentence, e.g. `is not a URL: relative URL without a base`.
    pub detail: String,
}

impl CxoneConfigError {
    fn new(variable: &'static str, detail: impl Into<String>) -> Self {
        CxoneConfigError {
            variable,
            detail: detail.into(),
        }
    }
}

/// The four credential variables, in the order an operator fills them in.
const CREDENTIALS: [&str; 4] = [
    "CXONE_CLIENT_ID",
    "CXONE_CLIENT_SECRET",
    "CXONE_ACCESS_KEY_ID",
    "CXONE_ACCESS_KEY_SECRET",
];

impl CxoneSettings {
    /// Reads the `CXONE_*` variables through `get` (an empty value counts as unset, as
    /// `.env` files often leave them).
    ///
    /// Reads `CXONE_ISSUER`, `CXONE_CLIENT_ID`, `CXONE_CLIENT_SECRET`,
    /// `CXONE_ACCESS_KEY_ID`, `CXONE_ACCESS_KEY_SECRET`, `CXONE_API_URL`,
    /// `CXONE_API_VERSION`, `CXONE_CACHE_TTL_SECS`, `CXONE_TIME_ZONE` and `CXONE_MAX_RPS`.
    ///
    /// # Errors
    /// [`CxoneConfigError`] naming the variable: a URL that is not an http(s) URL, an API
    /// version not shaped like `v30.0`, a cache TTL that is not a whole number of seconds,
    /// a time zone that is not an IANA name, a request rate that is not a whole number,
    /// or some but not all of the four credentials set (half a configuration is a mistake
    /// we would otherwise hide behind "CXone not checked").
    pub fn from_env_map(get: impl Fn(&str) -> Option<String>) -> Result<Self, CxoneConfigError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut s = CxoneSettings::default();

        if let Some(v) = get("CXONE_ISSUER") {
            s.issuer = parse_http_url("CXONE_ISSUER", &v)?;
        }
        if let Some(v) = get("CXONE_API_URL") {
            s.api_url_override = Some(parse_http_url("CXONE_API_URL", &v)?);
        }
        if let Some(v) = get("CXONE_API_VERSION") {
            if !is_api_version(&v) {
                return Err(CxoneConfigError::new(
                    "CXONE_API_VERSION",
                    format!("must look like v30.0, not {v:?}"),
                ));
            }
            s.api_version = v;
        }
        if let Some(v) = get("CXONE_CACHE_TTL_SECS") {
            let secs: u64 = v.parse().map_err(|_| {
                CxoneConfigError::new(
                    "CXONE_CACHE_TTL_SECS",
                    format!("must be a whole number of seconds, not {v:?}"),
                )
            })?;
            s.cache_ttl = Duration::from_secs(secs);
        }

        if let Some(v) = get("CXONE_TIME_ZONE") {
            s.time_zone = v.parse().map_err(|_| {
                CxoneConfigError::new(
                    "CXONE_TIME_ZONE",
                    format!("must be an IANA time zone such as America/New_York, not {v:?}"),
                )
            })?;
        }

        if let Some(v) = get("CXONE_MAX_RPS") {
            s.max_rps = v.parse().map_err(|_| {
                CxoneConfigError::new(
                    "CXONE_MAX_RPS",
                    format!(
                        "must be a whole number of requests per second (0 = no limit), not {v:?}"
                    ),
                )
            })?;
        }

        let values: Vec<Option<String>> = CREDENTIALS.iter().map(|n| get(n)).collect();
        let set = values.iter().filter(|v| v.is_some()).count();
        if set != 0 && set != CREDENTIALS.len() {
            let missing = CREDENTIALS
                .iter()
                .zip(&values)
                .find(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .expect("some credential is missing");
            let present: Vec<&str> = CREDENTIALS
                .iter()
                .zip(&values)
                .filter(|(_, v)| v.is_some())
                .map(|(n, _)| *n)
                .collect();
            return Err(CxoneConfigError::new(
                missing,
                format!(
                    "is not set, but {} is: set all four CXone credentials or none",
                    present.join(", ")
                ),
            ));
        }
        let mut values = values.into_iter();
        s.client_id = values.next().flatten();
        s.client_secret = values.next().flatten().map(SecretString::from);
        s.access_key_id = values.next().flatten().map(SecretString::from);
        s.access_key_secret = values.next().flatten().map(SecretString::from);
        Ok(s)
    }

    /// Whether all four credentials are set; without them the diagnosis runs on the
    /// payload alone.
    pub fn is_configured(&self) -> bool {
        self.client_id.is_some()
            && self.client_secret.is_some()
            && self.access_key_id.is_some()
            && self.access_key_secret.is_some()
    }
}

fn parse_http_url(variable: &'static str, value: &str) -> Result<Url, CxoneConfigError> {
    let url = Url::parse(value)
        .map_err(|e| CxoneConfigError::new(variable, format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(CxoneConfigError::new(
            variable,
            format!("must be an http(s) URL, not {value:?}"),
        ));
    }
    Ok(url)
}

/// `v30.0`, `v33`, `V31.0`: the shapes CXone uses in its service paths.
fn is_api_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix(['v', 'V']) else {
        return false;
    };
    let mut parts = rest.split('.');
    let major_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let minor_ok = parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    major_ok && minor_ok && rest.split('.').count() <= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_set_gives_the_contract_defaults_and_is_not_configured() {
        let s = CxoneSettings::from_env_map(env(&[])).unwrap();
        assert_eq!(s.issuer.as_str(), "https://cxone.niceincontact.com/");
        assert_eq!(s.api_version, "v30.0");
        assert_eq!(s.cache_ttl, Duration::from_secs(10));
        assert_eq!(s.request_timeout, Duration::from_secs(10));
        assert_eq!(s.max_rps, 10);
        assert!(s.api_url_override.is_none());
        assert!(!s.is_configured());
    }

    #[test]
    fn all_four_credentials_make_it_configured() {
        let s = CxoneSettings::from_env_map(env(&[
            ("CXONE_CLIENT_ID", "app"),
            ("CXONE_CLIENT_SECRET", "s3cret"),
            ("CXONE_ACCESS_KEY_ID", "AKID===="),
            ("CXONE_ACCESS_KEY_SECRET", "AKSECRET===="),
            ("CXONE_API_URL", "https://api-eu1.niceincontact.com"),
            ("CXONE_API_VERSION", "v32.0"),
            ("CXONE_CACHE_TTL_SECS", "0"),
        ]))
        .unwrap();
        assert!(s.is_configured());
        assert_eq!(s.access_key_id.unwrap().expose_secret(), "AKID====");
        assert_eq!(s.api_version, "v32.0");
        assert_eq!(s.cache_ttl, Duration::ZERO);
        assert_eq!(
            s.api_url_override.unwrap().as_str(),
            "https://api-eu1.niceincontact.com/"
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let s = CxoneSettings::from_env_map(env(&[
            ("CXONE_CLIENT_ID", "app"),
            ("CXONE_CLIENT_SECRET", "s3cret-value"),
            ("CXONE_ACCESS_KEY_ID", "AKID-VALUE"),
            ("CXONE_ACCESS_KEY_SECRET", "AKSECRET-VALUE"),
        ]))
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cret-value"), "{dbg}");
        assert!(!dbg.contains("AKSECRET-VALUE"), "{dbg}");
        assert!(!dbg.contains("AKID-VALUE"), "{dbg}");
    }

    #[test]
    fn a_bad_issuer_is_named_in_the_error() {
        let err = CxoneSettings::from_env_map(env(&[("CXONE_ISSUER", "cxone.niceincontact")]))
            .unwrap_err();
        assert_eq!(err.variable, "CXONE_ISSUER");
        assert!(
            err.to_string().starts_with("CXONE_ISSUER is not a URL"),
            "{err}"
        );
        let err =
            CxoneSettings::from_env_map(env(&[("CXONE_API_URL", "ftp://x.example")])).unwrap_err();
        assert_eq!(err.variable, "CXONE_API_URL");
    }

    #[test]
    fn a_bad_version_or_ttl_is_named_in_the_error() {
        for bad in ["30.0", "v", "v30.", "v30.0.1", "latest"] {
            let err = CxoneSettings::from_env_map(env(&[("CXONE_API_VERSION", bad)])).unwrap_err();
            assert_eq!(err.variable, "CXONE_API_VERSION", "{bad}");
        }
        assert!(CxoneSettings::from_env_map(env(&[("CXONE_API_VERSION", "V33")])).is_ok());
        let err = CxoneSettings::from_env_map(env(&[("CXONE_CACHE_TTL_SECS", "ten")])).unwrap_err();
        assert_eq!(err.variable, "CXONE_CACHE_TTL_SECS");
        let err = CxoneSettings::from_env_map(env(&[("CXONE_MAX_RPS", "2.5")])).unwrap_err();
        assert_eq!(err.variable, "CXONE_MAX_RPS");
        let s = CxoneSettings::from_env_map(env(&[("CXONE_MAX_RPS", "0")])).unwrap();
        assert_eq!(s.max_rps, 0);
    }

    #[test]
    fn the_time_zone_is_utc_unless_an_iana_name_is_set() {
        let s = CxoneSettings::from_env_map(env(&[])).unwrap();
        assert_eq!(s.time_zone, chrono_tz::UTC);
        let s =
            CxoneSettings::from_env_map(env(&[("CXONE_TIME_ZONE", " Europe/Berlin ")])).unwrap();
        assert_eq!(s.time_zone, chrono_tz::Europe::Berlin);
        let err = CxoneSettings::from_env_map(env(&[("CXONE_TIME_ZONE", "CEST+2")])).unwrap_err();
        assert_eq!(err.variable, "CXONE_TIME_ZONE");
    }

    #[test]
    fn half_a_set_of_credentials_names_the_first_missing_variable() {
        let err = CxoneSettings::from_env_map(env(&[
            ("CXONE_CLIENT_ID", "app"),
            ("CXONE_CLIENT_SECRET", "s"),
            ("CXONE_ACCESS_KEY_SECRET", "k"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "CXONE_ACCESS_KEY_ID");
        assert!(err.to_string().contains("CXONE_CLIENT_ID"), "{err}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s =
            CxoneSettings::from_env_map(env(&[("CXONE_CLIENT_ID", ""), ("CXONE_ISSUER", "  ")]))
                .unwrap();
        assert!(!s.is_configured());
        assert_eq!(s.issuer.as_str(), "https://cxone.niceincontact.com/");
    }
}
