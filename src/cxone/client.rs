//! [`CxoneClient`]: one per process, cheap to clone. It owns the HTTP client, the shared
//! token, the skill-level caches, and the one way an API call is made: a Bearer GET under
//! `{api}/incontactapi/services/{version}/`, re-authenticated once on a 401, retried by
//! the transport on timeouts, 429 and 5xx, and mapped to `Ok(Some(json))`, `Ok(None)`
//! (204 or an empty body) or a [`CxoneError`]. Every body's keys come back in camelCase,
//! whatever the API version spelled them in.
//!
//! The reads themselves live in `contacts.rs` and `skills.rs`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use crate::metrics::Metrics;

use super::auth::Auth;
use super::cache::SkillCaches;
use super::error::CxoneError;
use super::http::{RetryPolicy, Transport};
use super::limiter::RateLimiter;
use super::settings::CxoneSettings;
use super::shape;

/// The NICE CXone API client.
#[derive(Clone)]
pub struct CxoneClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: CxoneSettings,
    pub transport: Transport,
    pub auth: Auth,
    pub caches: SkillCaches,
    /// Set once `/statehistory` answered 404 and `/state-history` did not, so later
    /// calls go to the spelling this tenant knows first.
    pub dashed_state_history: AtomicBool,
}

impl std::fmt::Debug for CxoneClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CxoneClient")
            .field("issuer", &self.inner.settings.issuer.as_str())
            .field("api_version", &self.inner.settings.api_version)
            .finish_non_exhaustive()
    }
}

/// Where a GET goes: path segments under the services base (each percent-encoded, so an
/// id can never climb out of its path), or a `_links.next` target.
pub(crate) enum Target<'a> {
    Path(&'a [&'a str]),
    /// A path and query relative to the services base, taken from a `_links` URL.
    Relative {
        segments: Vec<String>,
        query: Option<String>,
    },
}

impl CxoneClient {
    /// A client for `settings`; nothing is sent until the first call.
    ///
    /// # Errors
    /// [`CxoneError::Setup`] when the credentials are incomplete, or the HTTP client
    /// cannot be built (for example, no CA certificates on the machine).
    pub fn new(settings: CxoneSettings, metrics: Arc<Metrics>) -> Result<Self, CxoneError> {
        if !settings.is_configured() {
            return Err(CxoneError::Setup {
                detail: "set CXONE_CLIENT_ID, CXONE_CLIENT_SECRET, CXONE_ACCESS_KEY_ID and \
                         CXONE_ACCESS_KEY_SECRET to use CXone"
                    .into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(
                settings
                    .request_timeout
                    .min(std::time::Duration::from_secs(5)),
            )
            .user_agent(concat!("handover-doctor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CxoneError::Setup {
                detail: format!("could not build the HTTP client: {e}"),
            })?;
        let transport = Transport {
            http,
            metrics,
            retry: RetryPolicy::from_settings(&settings),
            request_timeout: settings.request_timeout,
            limiter: Arc::new(RateLimiter::new(settings.max_rps)),
        };
        Ok(CxoneClient {
            inner: Arc::new(Inner {
                caches: SkillCaches::new(settings.cache_ttl),
                settings,
                transport,
                auth: Auth::default(),
                dashed_state_history: AtomicBool::new(false),
            }),
        })
    }

    /// A client when the settings hold credentials, `None` when CXone is not configured
    /// (the diagnosis then runs on the payload alone).
    ///
    /// # Errors
    /// As [`CxoneClient::new`], for configured settings.
    pub fn from_settings(
        settings: CxoneSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Self>, CxoneError> {
        if settings.is_configured() {
            CxoneClient::new(settings, metrics).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The settings this client runs with.
    pub fn settings(&self) -> &CxoneSettings {
        &self.inner.settings
    }

    /// Runs discovery and gets a token (or reuses the current one), for `check-config`.
    /// Returns one line: the tenant, the API base and the token lifetime.
    ///
    /// # Errors
    /// [`CxoneError::AuthFailed`] when discovery or the token request is refused,
    /// [`CxoneError::Unavailable`] when CXone does not answer.
    pub async fn check(&self) -> Result<String, CxoneError> {
        let s = self.session().await?;
        Ok(format!(
            "CXone token ok (tenant {}, valid {} s), API {}",
            s.tenant_id.as_deref().unwrap_or("unknown"),
            s.expires_in.as_secs(),
            s.api_base.as_str().trim_end_matches('/'),
        ))
    }

    pub(crate) async fn session(&self) -> Result<Arc<super::auth::Session>, CxoneError> {
        self.inner
            .auth
            .session(&self.inner.transport, &self.inner.settings)
            .await
    }

    /// An authorised GET. `Ok(None)` for 204 or an empty body; 404 is
    /// [`CxoneError::NotFound`] (the reads decide what "not found" means).
    pub(crate) async fn get_json(
        &self,
        endpoint: &'static str,
        target: &Target<'_>,
        query: &[(&str, String)],
    ) -> Result<Option<Value>, CxoneError> {
        let mut what = match target {
            Target::Path(segments) => format!("GET /{}", segments.join("/")),
            Target::Relative { segments, .. } => format!("GET /{}", segments.join("/")),
        };
        // The filter belongs in the description; paging parameters do not.
        let filters: Vec<String> = query
            .iter()
            .filter(|(k, _)| !matches!(*k, "top" | "skip"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !filters.is_empty() {
            what.push('?');
            what.push_str(&filters.join("&"));
        }
        let mut reauthenticated = false;
        loop {
            let session = self.session().await?;
            let url = target_url(&session.api_base, target);
            let transport = &self.inner.transport;
            let reply = transport
                .execute(endpoint, &what, || {
                    let req = transport
                        .http
                        .get(url.clone())
                        .bearer_auth(session.access_token.expose_secret())
                        .header(reqwest::header::ACCEPT, "application/json");
                    if query.is_empty() {
                        req
                    } else {
                        req.query(query)
                    }
                })
                .await?;
            match reply.status.as_u16() {
                401 if !reauthenticated => {
                    self.inner.auth.invalidate(session.generation).await;
                    reauthenticated = true;
                }
                401 => {
                    return Err(CxoneError::AuthFailed {
                        what,
                        detail: "the API answered 401 even to a fresh token".into(),
                    });
                }
                403 => return Err(CxoneError::Forbidden { what }),
                404 => return Err(CxoneError::NotFound { what }),
                204 => return Ok(None),
                s if (200..300).contains(&s) => {
                    if reply.body.iter().all(u8::is_ascii_whitespace) {
                        return Ok(None);
                    }
                    return serde_json::from_slice(&reply.body)
                        .map(|v| Some(shape::camel_keys(v)))
                        .map_err(|e| CxoneError::Decode {
                            what,
                            detail: format!("the body is not JSON: {e}"),
                        });
                }
                status => {
                    return Err(CxoneError::Rejected {
                        what,
                        status,
                        detail: reply
                            .error_code()
                            .map(|c| format!(": {c}"))
                            .unwrap_or_default(),
                    });
                }
            }
        }
    }
}

fn target_url(base: &Url, target: &Target<'_>) -> Url {
    let mut url = base.clone();
    {
        let mut path = url.path_segments_mut().expect("http(s) URLs have paths");
        path.pop_if_empty();
        match target {
            Target::Path(segments) => {
                path.extend(segments.iter());
            }
            Target::Relative { segments, .. } => {
                path.extend(segments.iter());
            }
        }
    }
    if let Target::Relative { query, .. } = target {
        url.set_query(query.as_deref());
    }
    url
}

/// The part of a `_links` URL under `/services/{version}/`, to be replayed against our
/// own API base. We never follow a link to another host: the bearer token goes only where
/// discovery (or `CXONE_API_URL`) pointed.
pub(crate) fn relative_link(link: &str) -> Option<Target<'static>> {
    let url = Url::parse(link)
        .or_else(|_| Url::parse("http://relative.invalid/")?.join(link))
        .ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    let at = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("services"))?;
    // services / {version} / rest...
    let rest: Vec<String> = segments
        .get(at + 2..)?
        .iter()
        .map(|s| percent_decode(s))
        .collect();
    if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
        return None;
    }
    Some(Target::Relative {
        segments: rest,
        query: url.query().map(str::to_string),
    })
}

/// Undoes `%XX` escapes so re-adding the segment does not double-encode it.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_is_replayed_under_our_own_base() {
        let base = Url::parse("http://127.0.0.1:4000/incontactapi/services/v30.0/").unwrap();
        let t = relative_link(
            "https://api-na1.niceincontact.com/inContactAPI/services/v30.0/contacts/completed?top=2&skip=2",
        )
        .unwrap();
        assert_eq!(
            target_url(&base, &t).as_str(),
            "http://127.0.0.1:4000/incontactapi/services/v30.0/contacts/completed?top=2&skip=2"
        );
    }

    #[test]
    fn links_without_a_services_path_are_not_followed() {
        assert!(relative_link("https://evil.example/steal?skip=2").is_none());
        assert!(relative_link("https://x.example/incontactapi/services/v30.0/").is_none());
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        let base = Url::parse("https://api.example/incontactapi/services/v30.0/").unwrap();
        let url = target_url(&base, &Target::Path(&["contacts", "../../admin"]));
        assert_eq!(
            url.as_str(),
            "https://api.example/incontactapi/services/v30.0/contacts/..%2F..%2Fadmin"
        );
    }

    #[test]
    fn escaped_link_segments_are_not_escaped_twice() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
