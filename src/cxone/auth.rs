//! Discovery and the access token, exactly as CXone does it (cxone.md section 1):
//!
//! 1. `GET {issuer}/.well-known/openid-configuration` → `token_endpoint`;
//! 2. `POST token_endpoint` with HTTP Basic `client_id:client_secret` and the form
//!    `grant_type=password&username=<access key id>&password=<access key secret>`;
//! 3. read `iss` and `tenantId` from the `id_token`'s claims (no signature check: the
//!    token came straight from the endpoint we discovered, over TLS);
//! 4. `GET {iss}/.well-known/cxone-configuration?tenantId=…` → `api_endpoint`, unless
//!    `CXONE_API_URL` overrides it.
//!
//! One token per client, behind a `tokio::sync::Mutex`: whoever finds it missing or due
//! fetches it while everyone else waits for that one result (single flight), including
//! when the fetch fails. Discovery results are kept for the life of the client; only the
//! token is renewed, a little before it expires. A renewal that fails (CXone down, a
//! timeout) does not throw the current token away while it is still valid: callers keep
//! using it, and one of them tries the renewal again a little later.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::error::CxoneError;
use super::http::Transport;
use super::settings::CxoneSettings;

/// Renew this long before `expires_in` runs out (NICE's own SDKs use 5–10 minutes), but
/// never more than half the lifetime, so short-lived tokens are still used.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How long a refused login is answered from memory: retrying bad credentials for every
/// job of a burst would only hammer the token endpoint (and risk locking the API user).
const REFUSED_LOGIN_HOLD: Duration = Duration::from_secs(5);

/// Lifetime assumed when the token response has no usable `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// After a failed renewal, how long callers use the still-valid token without trying
/// again (at most a tenth of the token's lifetime, so a short-lived token is retried in
/// time): one renewal attempt per pause, not one per API call.
const RENEWAL_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// A token ready to use, and where to use it.
pub(crate) struct Session {
    pub access_token: SecretString,
    /// `{api_endpoint}/incontactapi/services/{version}/`: every API path goes under it.
    pub api_base: Url,
    /// The tenant the token belongs to, when the token said.
    pub tenant_id: Option<String>,
    /// Increases with every new token; a 401 invalidates only the token it was given to.
    pub generation: u64,
    pub expires_in: Duration,
    refresh_at: Instant,
    expires_at: Instant,
}

impl Session {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }

    /// Still accepted by CXone (if not revoked): before `expires_in` ran out.
    fn is_valid(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    /// How long to keep using this token after a failed renewal before trying again.
    fn renewal_pause(&self) -> Duration {
        RENEWAL_RETRY_PAUSE.min(self.expires_in / 10)
    }
}

/// When to renew a token that lives `lifetime` from `issued`.
fn refresh_at(issued: Instant, lifetime: Duration) -> Instant {
    issued + lifetime - REFRESH_MARGIN.min(lifetime / 2)
}

#[derive(Default)]
struct State {
    token_endpoint: Option<Url>,
    api_base: Option<Url>,
    session: Option<Arc<Session>>,
    generation: u64,
    /// The last failed attempt: callers that were waiting while it ran get its error
    /// rather than each starting their own (a burst must not multiply a broken login),
    /// and a refused one is repeated for [`REFUSED_LOGIN_HOLD`].
    last_failure: Option<(Instant, CxoneError)>,
}

/// The shared token and what discovery found.
#[derive(Default)]
pub(crate) struct Auth {
    state: Mutex<State>,
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    token_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct CxoneConfiguration {
    api_endpoint: Option<String>,
}

/// What we read from the tokens' claims.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Claims {
    pub iss: Option<String>,
    pub tenant_id: Option<String>,
}

/// The claims of a JWT, without verifying it: base64url-decode the middle part.
pub(crate) fn decode_claims(jwt: &str) -> Option<Claims> {
    let payload = jwt.split('.').nth(1)?.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let text = |k: &str| {
        v.get(k).and_then(|x| match x {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    Some(Claims {
        iss: text("iss"),
        tenant_id: text("tenantId").or_else(|| text("tenant_id")),
    })
}

/// `{api_endpoint}/incontactapi/services/{version}/`.
pub(crate) fn services_base(api_endpoint: &Url, version: &str) -> Url {
    let mut base = api_endpoint.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.path_segments_mut()
        .expect("http(s) URLs have paths")
        .pop_if_empty()
        .extend(["incontactapi", "services", version, ""]);
    base
}

fn issuer_url(issuer: &Url, path: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}/{}",
        issuer.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    ))
}

impl Auth {
    /// A fresh session: the cached one, or a new token (after discovery, the first time).
    pub async fn session(
        &self,
        transport: &Transport,
        settings: &CxoneSettings,
    ) -> Result<Arc<Session>, CxoneError> {
        let asked = Instant::now();
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Some(s) = &st.session {
            if s.is_fresh(now) {
                return Ok(s.clone());
            }
            // Due for renewal, but a renewal just failed (while we waited, or within the
            // pause): the current token still works, so use it rather than ask again.
            if s.is_valid(now)
                && st
                    .last_failure
                    .as_ref()
                    .is_some_and(|(at, _)| *at >= asked || at.elapsed() < s.renewal_pause())
            {
                return Ok(s.clone());
            }
        }
        if let Some((at, err)) = &st.last_failure
            && (*at >= asked
                || (matches!(err, CxoneError::AuthFailed { .. })
                    && at.elapsed() < REFUSED_LOGIN_HOLD))
        {
            return Err(err.clone());
        }
        match self.login(&mut st, transport, settings).await {
            Ok(s) => {
                st.last_failure = None;
                Ok(s)
            }
            Err(e) => {
                st.last_failure = Some((Instant::now(), e.clone()));
                match &st.session {
                    Some(s) if s.is_valid(Instant::now()) => {
                        tracing::warn!(
                            error = %e,
                            valid_for_secs = s.expires_at.saturating_duration_since(Instant::now()).as_secs(),
                            "renewing the CXone token failed; using the current one while it is valid"
                        );
                        Ok(s.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// Drops the token that earned a 401, unless a newer one already replaced it.
    pub async fn invalidate(&self, generation: u64) {
        let mut st = self.state.lock().await;
        if st
            .session
            .as_ref()
            .is_some_and(|s| s.generation == generation)
        {
            tracing::info!("CXone rejected our token; fetching a new one");
            st.session = None;
        }
    }

    async fn login(
        &self,
        st: &mut State,
        transport: &Transport,
        settings: &CxoneSettings,
    ) -> Result<Arc<Session>, CxoneError> {
        let token_endpoint = match &st.token_endpoint {
            Some(u) => u.clone(),
            None => {
                let u = discover_token_endpoint(transport, settings).await?;
                st.token_endpoint = Some(u.clone());
                u
            }
        };
        let issued = Instant::now();
        let token = request_token(transport, settings, &token_endpoint).await?;
        let access_token = token
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CxoneError::AuthFailed {
                what: format!("POST {}", token_endpoint.path()),
                detail: "the token response has no access_token".into(),
            })?;
        // The id_token carries iss + tenantId; the access token carries tenantId too, so
        // it is the fallback when a response omits the id_token.
        let from_id = token.id_token.as_deref().and_then(decode_claims);
        let from_access = decode_claims(&access_token);
        let claims = Claims {
            iss: from_id
                .as_ref()
                .and_then(|c| c.iss.clone())
                .or_else(|| from_access.as_ref().and_then(|c| c.iss.clone())),
            tenant_id: from_id
                .as_ref()
                .and_then(|c| c.tenant_id.clone())
                .or_else(|| from_access.as_ref().and_then(|c| c.tenant_id.clone())),
        };
        let api_base = match &st.api_base {
            Some(b) => b.clone(),
            None => {
                let api = match &settings.api_url_override {
                    Some(u) => u.clone(),
                    None => discover_api(transport, settings, &claims).await?,
                };
                let b = services_base(&api, &settings.api_version);
                st.api_base = Some(b.clone());
                b
            }
        };
        let lifetime = token
            .expires_in
            .as_ref()
            .and_then(|v| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_LIFETIME);
        st.generation += 1;
        let session = Arc::new(Session {
            access_token: SecretString::from(access_token),
            api_base,
            tenant_id: claims.tenant_id,
            generation: st.generation,
            expires_in: lifetime,
            refresh_at: refresh_at(issued, lifetime),
            expires_at: issued + lifetime,
        });
        tracing::info!(
            tenant_id = session.tenant_id.as_deref().unwrap_or("unknown"),
            expires_in_secs = lifetime.as_secs(),
            "obtained a CXone access token"
        );
        st.session = Some(session.clone());
        Ok(session)
    }
}

async fn discover_token_endpoint(
    transport: &Transport,
    settings: &CxoneSettings,
) -> Result<Url, CxoneError> {
    let url = issuer_url(&settings.issuer, ".well-known/openid-configuration").map_err(|e| {
        CxoneError::AuthFailed {
            what: "OpenID discovery".into(),
            detail: format!("CXONE_ISSUER does not make a discovery URL: {e}"),
        }
    })?;
    let what = format!("GET {url}");
    let reply = transport
        .execute("/.well-known/openid-configuration", &what, || {
            transport.http.get(url.clone())
        })
        .await?;
    let fail = |detail: String| CxoneError::AuthFailed {
        what: what.clone(),
        detail,
    };
    if !reply.status.is_success() {
        return Err(fail(format!(
            "OpenID discovery answered {}; check CXONE_ISSUER",
            reply.status.as_u16()
        )));
    }
    let conf: OpenIdConfiguration = serde_json::from_slice(&reply.body)
        .map_err(|e| fail(format!("the OpenID configuration is not JSON: {e}")))?;
    let endpoint = conf
        .token_endpoint
        .ok_or_else(|| fail("the OpenID configuration has no token_endpoint".into()))?;
    Url::parse(&endpoint).map_err(|e| fail(format!("token_endpoint is not a URL: {e}")))
}

async fn request_token(
    transport: &Transport,
    settings: &CxoneSettings,
    token_endpoint: &Url,
) -> Result<TokenResponse, CxoneError> {
    let what = format!("POST {}", token_endpoint.path());
    let missing = |name: &str| CxoneError::AuthFailed {
        what: what.clone(),
        detail: format!("{name} is not set"),
    };
    let client_id = settings
        .client_id
        .as_deref()
        .ok_or_else(|| missing("CXONE_CLIENT_ID"))?;
    let client_secret = settings
        .client_secret
        .as_ref()
        .ok_or_else(|| missing("CXONE_CLIENT_SECRET"))?;
    let key_id = settings
        .access_key_id
        .as_ref()
        .ok_or_else(|| missing("CXONE_ACCESS_KEY_ID"))?;
    let key_secret = settings
        .access_key_secret
        .as_ref()
        .ok_or_else(|| missing("CXONE_ACCESS_KEY_SECRET"))?;
    let reply = transport
        .execute("/auth/token", &what, || {
            // `.form` URL-encodes: the keys end in `====`, which must travel as `%3D`.
            transport
                .http
                .post(token_endpoint.clone())
                .basic_auth(client_id, Some(client_secret.expose_secret()))
                .form(&[
                    ("grant_type", "password"),
                    ("username", key_id.expose_secret()),
                    ("password", key_secret.expose_secret()),
                ])
        })
        .await?;
    if !reply.status.is_success() {
        let code = reply
            .error_code()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let hint = match reply.status.as_u16() {
            400 | 401 => "check CXONE_CLIENT_ID/SECRET and the access key",
            403 => "the application or user is not allowed to log in",
            _ => "check CXONE_ISSUER",
        };
        return Err(CxoneError::AuthFailed {
            what,
            detail: format!(
                "the token endpoint answered {}{code}; {hint}",
                reply.status.as_u16()
            ),
        });
    }
    serde_json::from_slice(&reply.body).map_err(|e| CxoneError::AuthFailed {
        what,
        detail: format!("the token response is not JSON: {e}"),
    })
}

async fn discover_api(
    transport: &Transport,
    settings: &CxoneSettings,
    claims: &Claims,
) -> Result<Url, CxoneError> {
    let issuer = match claims.iss.as_deref().map(Url::parse) {
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => u,
        // A token without a usable `iss` came from our issuer: use that.
        _ => settings.issuer.clone(),
    };
    let fail = |what: &str, detail: String| CxoneError::AuthFailed {
        what: what.to_string(),
        detail,
    };
    let tenant = claims.tenant_id.as_deref().ok_or_else(|| {
        fail(
            "CXone API discovery",
            "the token carries no tenantId, so the API cannot be discovered; set CXONE_API_URL"
                .into(),
        )
    })?;
    let url = issuer_url(&issuer, ".well-known/cxone-configuration")
        .map_err(|e| fail("CXone API discovery", format!("bad issuer: {e}")))?;
    let what = format!("GET {url}");
    let reply = transport
        .execute("/.well-known/cxone-configuration", &what, || {
            transport
                .http
                .get(url.clone())
                .query(&[("tenantId", tenant)])
        })
        .await?;
    if !reply.status.is_success() {
        return Err(fail(
            &what,
            format!(
                "API discovery answered {}; set CXONE_API_URL to skip it",
                reply.status.as_u16()
            ),
        ));
    }
    let conf: CxoneConfiguration = serde_json::from_slice(&reply.body)
        .map_err(|e| fail(&what, format!("the CXone configuration is not JSON: {e}")))?;
    let endpoint = conf
        .api_endpoint
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            fail(
                &what,
                "API endpoint not found in the discovery response; set CXONE_API_URL".into(),
            )
        })?;
    match Url::parse(endpoint.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(fail(
            &what,
            "api_endpoint in the discovery response is not an http(s) URL".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id_token of `fixtures/cxone/shapes/token.json`.
    fn fixture_id_token() -> String {
        let v: Value =
            serde_json::from_str(include_str!("../../fixtures/cxone/shapes/token.json")).unwrap();
        v["id_token"].as_str().unwrap().to_string()
    }

    #[test]
    fn the_fixture_id_token_names_issuer_and_tenant() {
        let c = decode_claims(&fixture_id_token()).unwrap();
        assert_eq!(c.iss.as_deref(), Some("https://cxone.niceincontact.com"));
        assert_eq!(
            c.tenant_id.as_deref(),
            Some("11ee0000-aaaa-bbbb-cccc-0242ac110002")
        );
    }

    #[test]
    fn garbage_tokens_have_no_claims() {
        assert_eq!(decode_claims("not-a-jwt"), None);
        assert_eq!(decode_claims("a.!!!.c"), None);
        // Valid base64, but not JSON.
        assert_eq!(decode_claims("a.aGVsbG8.c"), None);
    }

    #[test]
    fn padded_payloads_decode_too() {
        let payload = base64::engine::general_purpose::URL_SAFE
            .encode(br#"{"iss":"https://x.example","tenantId":"t1"}"#);
        let c = decode_claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(c.tenant_id.as_deref(), Some("t1"));
    }

    #[test]
    fn tokens_are_renewed_five_minutes_early_or_at_half_life() {
        let t0 = Instant::now();
        assert_eq!(
            refresh_at(t0, Duration::from_secs(3600)),
            t0 + Duration::from_secs(3300)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(60)),
            t0 + Duration::from_secs(30)
        );
    }

    #[test]
    fn the_services_base_ends_in_the_version_whatever_the_endpoint_looks_like() {
        for api in [
            "https://api-na1.niceincontact.com",
            "https://api-na1.niceincontact.com/",
        ] {
            let b = services_base(&Url::parse(api).unwrap(), "v30.0");
            assert_eq!(
                b.as_str(),
                "https://api-na1.niceincontact.com/incontactapi/services/v30.0/"
            );
        }
        let b = services_base(&Url::parse("http://proxy.local/cxone").unwrap(), "v31.0");
        assert_eq!(
            b.as_str(),
            "http://proxy.local/cxone/incontactapi/services/v31.0/"
        );
    }
}
