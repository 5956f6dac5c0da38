//! Webhook authentication (CONTRACT.md section 6): Cognigy HMAC, Standard Webhooks and
//! API keys, with several secrets or keys at once for rotation.
//!
//! The request body arrives as [`Unverified`]; the only way to get at its bytes for
//! parsing is [`Unverified::verify`], which returns [`Verified`]. Forgetting to check the
//! signature therefore does not compile.
//!
//! Every comparison is constant-time (`subtle`): MACs as tags of 32 bytes, API keys by
//! comparing SHA-256 digests (so their lengths do not leak either).
//!
//! The MACs are aws-lc's HMAC-SHA256 (through `aws-lc-rs`, already built for TLS): its
//! assembly SHA-256 took 4.8 us for a 1.5 KB body where RustCrypto's `sha2` took 8.5 us, on
//! the 2-core Xeon without SHA extensions where the ingest benchmark runs (one MAC per
//! request and secret, the largest step of the request path there).

use std::sync::Arc;

use actix_web::http::header::{self as http_header, HeaderMap, HeaderName};
use actix_web::web::Bytes;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Cognigy HMAC headers.
pub const COGNIGY_TIMESTAMP: &str = "x-cognigy-timestamp";
/// `sha256=<hex>`, several comma-separated.
pub const COGNIGY_SIGNATURE: &str = "x-cognigy-signature";
/// Standard Webhooks headers.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Unix seconds of the attempt.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `v1,<base64>`, several space-separated.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// Static key header.
pub const API_KEY: &str = "x-api-key";

// The same names as header keys, made at compile time: looked up by `&str`, each would be
// parsed and hashed into a `HeaderName` again on every request.
const H_COGNIGY_TIMESTAMP: HeaderName = HeaderName::from_static(COGNIGY_TIMESTAMP);
const H_COGNIGY_SIGNATURE: HeaderName = HeaderName::from_static(COGNIGY_SIGNATURE);
const H_WEBHOOK_ID: HeaderName = HeaderName::from_static(WEBHOOK_ID);
const H_WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(WEBHOOK_TIMESTAMP);
const H_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(WEBHOOK_SIGNATURE);
const H_API_KEY: HeaderName = HeaderName::from_static(API_KEY);

/// A signing secret, decoded once at start and kept as the HMAC key (its inner and outer
/// states are computed once, not per request; 1.2 KB, so shared rather than copied).
#[derive(Clone)]
pub struct SigningKey(Arc<hmac::Key>);

impl SigningKey {
    /// A `whsec_` secret is base64 after the prefix (Standard Webhooks); any other secret
    /// is used as its UTF-8 bytes.
    ///
    /// # Errors
    /// A sentence naming `WEBHOOK_SIGNING_SECRETS` when a `whsec_` secret is not base64
    /// or a secret is empty.
    pub fn parse(secret: &str) -> Result<Self, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("WEBHOOK_SIGNING_SECRETS has an empty entry".into());
        }
        match secret.strip_prefix("whsec_") {
            Some(b64) => B64.decode(b64).map(|k| Self::keyed(&k)).map_err(|_| {
                "WEBHOOK_SIGNING_SECRETS: a whsec_ secret must be base64 after the prefix".into()
            }),
            None => Ok(Self::keyed(secret.as_bytes())),
        }
    }

    fn keyed(key: &[u8]) -> Self {
        SigningKey(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, key)))
    }

    /// The HMAC-SHA256 of the concatenated `parts`.
    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = hmac::Context::with_key(&self.0);
        for p in parts {
            mac.update(p);
        }
        let mut tag = [0u8; 32];
        tag.copy_from_slice(mac.sign().as_ref());
        tag
    }

    /// `sha256=<hex>` over `"<timestamp>.<body>"`: the Cognigy scheme (and what `sign` prints).
    pub fn sign_cognigy(&self, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let tag = self.tag(&[ts.as_bytes(), b".", body]);
        format!("sha256={}", hex::encode(tag))
    }

    /// `v1,<base64>` over `"<id>.<timestamp>.<body>"`: the Standard Webhooks scheme.
    pub fn sign_standard(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let tag = self.tag(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
        format!("v1,{}", B64.encode(tag))
    }
}

/// What the receiver accepts.
#[derive(Clone, Default)]
pub struct AuthConfig {
    /// `WEBHOOK_SIGNING_SECRETS`, decoded.
    pub signing_keys: Vec<SigningKey>,
    /// SHA-256 digests of `WEBHOOK_API_KEYS`.
    api_key_digests: Vec<[u8; 32]>,
    /// `WEBHOOK_TOLERANCE_SECS`.
    pub tolerance_secs: i64,
}

impl AuthConfig {
    /// Builds the config from the configured secrets and keys.
    ///
    /// # Errors
    /// A sentence naming the variable when a secret cannot be used.
    pub fn new(
        signing_secrets: &[SecretString],
        api_keys: &[SecretString],
        tolerance_secs: u64,
    ) -> Result<Self, String> {
        let signing_keys = signing_secrets
            .iter()
            .map(|s| SigningKey::parse(s.expose_secret()))
            .collect::<Result<_, _>>()?;
        let api_key_digests = api_keys
            .iter()
            .map(|k| {
                let k = k.expose_secret().trim();
                if k.is_empty() {
                    Err("WEBHOOK_API_KEYS has an empty entry".to_string())
                } else {
                    Ok(Sha256::digest(k.as_bytes()).into())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(AuthConfig {
            signing_keys,
            api_key_digests,
            // Saturating: `as i64` wrapped a value above i64::MAX to a negative tolerance,
            // i.e. to refusing every signed request. (The configuration bounds it far lower.)
            tolerance_secs: i64::try_from(tolerance_secs).unwrap_or(i64::MAX),
        })
    }

    /// True when neither secrets nor keys are configured: every request is accepted
    /// (allowed only on a loopback `LISTEN_ADDR`).
    pub fn is_open(&self) -> bool {
        self.signing_keys.is_empty() && self.api_key_digests.is_empty()
    }
}

/// Which check let a request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `X-Cognigy-Signature`.
    CognigyHmac,
    /// `webhook-signature`.
    StandardWebhooks,
    /// `X-API-Key` / `Authorization: Bearer`.
    ApiKey,
    /// No credentials configured (loopback only).
    Open,
}

/// Why authentication failed; each maps to a 401 code of CONTRACT.md section 4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Nothing that authenticates was sent.
    #[error("send X-API-Key, or sign the request (X-Cognigy-Signature or webhook-signature)")]
    MissingCredentials,
    /// A signature was sent and none verified.
    #[error("{0}")]
    InvalidSignature(&'static str),
    /// The signed timestamp is outside the tolerance.
    #[error(
        "the signed timestamp is more than {0} seconds away from now: check the sender's clock, and sign when sending"
    )]
    StaleTimestamp(i64),
    /// An API key was sent and it is not one of ours.
    #[error("the API key is not one of WEBHOOK_API_KEYS")]
    InvalidApiKey,
}

impl AuthError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials => "missing_credentials",
            AuthError::InvalidSignature(_) => "invalid_signature",
            AuthError::StaleTimestamp(_) => "stale_timestamp",
            AuthError::InvalidApiKey => "invalid_api_key",
        }
    }
}

/// A request body nobody has vouched for yet.
pub struct Unverified(Bytes);

/// A request body whose authenticity was checked.
#[derive(Debug)]
pub struct Verified {
    body: Bytes,
    /// How it was authenticated.
    pub method: Method,
}

impl Verified {
    /// The verified bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl Unverified {
    /// Wraps the raw body bytes.
    pub fn new(body: Bytes) -> Self {
        Unverified(body)
    }

    /// Checks the request against every configured method. A request carrying a
    /// signature is judged by its signature alone: a bad signature is not rescued by a
    /// good key.
    ///
    /// # Errors
    /// [`AuthError`] with the reason.
    pub fn verify(
        self,
        cfg: &AuthConfig,
        headers: &HeaderMap,
        now_unix: i64,
    ) -> Result<Verified, AuthError> {
        let body = self.0;
        let method = if let Some(sigs) = header(headers, &H_COGNIGY_SIGNATURE) {
            let ts = timestamp(header(headers, &H_COGNIGY_TIMESTAMP), cfg, now_unix)?;
            let ts = ts.to_string();
            let tags = sigs.split(',').filter_map(|s| {
                let mut tag = [0u8; 32];
                hex::decode_to_slice(s.trim().strip_prefix("sha256=")?, &mut tag).ok()?;
                Some(tag)
            });
            check_tags(
                cfg,
                tags,
                &[ts.as_bytes(), b".", &body],
                "X-Cognigy-Signature",
            )?;
            Method::CognigyHmac
        } else if let Some(sigs) = header(headers, &H_WEBHOOK_SIGNATURE) {
            let id = header(headers, &H_WEBHOOK_ID).ok_or(AuthError::InvalidSignature(
                "webhook-signature needs webhook-id",
            ))?;
            let ts = timestamp(header(headers, &H_WEBHOOK_TIMESTAMP), cfg, now_unix)?.to_string();
            let tags = sigs.split(' ').filter_map(|s| {
                // Decoded into a buffer with room for one byte more than a tag, so a
                // longer value fails instead of being cut to size.
                let mut tag = [0u8; 33];
                let n = B64
                    .decode_slice(s.trim().strip_prefix("v1,")?, &mut tag)
                    .ok()?;
                if n != 32 {
                    return None;
                }
                tag[..32].try_into().ok()
            });
            check_tags(
                cfg,
                tags,
                &[id.as_bytes(), b".", ts.as_bytes(), b".", &body],
                "webhook-signature",
            )?;
            Method::StandardWebhooks
        } else if let Some(key) = api_key(headers) {
            let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
            // Fold over every key without short-circuiting.
            let ok = cfg
                .api_key_digests
                .iter()
                .fold(subtle::Choice::from(0), |acc, d| acc | d.ct_eq(&digest));
            if !bool::from(ok) {
                return Err(AuthError::InvalidApiKey);
            }
            Method::ApiKey
        } else if cfg.is_open() {
            Method::Open
        } else {
            return Err(AuthError::MissingCredentials);
        };
        Ok(Verified { body, method })
    }
}

/// Accepts when any presented tag is the HMAC of `parts` under any configured key (every
/// pair is tried: rotation on both sides), compared in constant time.
fn check_tags(
    cfg: &AuthConfig,
    tags: impl Iterator<Item = [u8; 32]> + Clone,
    parts: &[&[u8]],
    header_name: &'static str,
) -> Result<(), AuthError> {
    // An HMAC-SHA256 tag is 32 bytes: anything else could never verify and is dropped
    // while decoding, into a stack array; the tags are decoded again for each key rather
    // than gathered into a `Vec` (one key is the rule, a second one during rotation).
    let ok = cfg.signing_keys.iter().any(|key| {
        let mac = key.tag(parts);
        tags.clone().any(|tag| bool::from(mac.ct_eq(&tag)))
    });
    if ok {
        return Ok(());
    }
    Err(AuthError::InvalidSignature(
        match (cfg.signing_keys.is_empty(), header_name) {
            (true, _) => "the request is signed but no WEBHOOK_SIGNING_SECRETS is configured",
            (false, "X-Cognigy-Signature") => {
                "X-Cognigy-Signature does not match the body with any of WEBHOOK_SIGNING_SECRETS"
            }
            (false, _) => {
                "webhook-signature does not match the body with any of WEBHOOK_SIGNING_SECRETS"
            }
        },
    ))
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = header(headers, &H_API_KEY) {
        return Some(k);
    }
    let auth = header(headers, &http_header::AUTHORIZATION)?;
    let (scheme, rest) = auth.split_once(' ')?;
    // `ApiKey` is what Cognigy's "API Key (Authorization: ApiKey)" connection sends.
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("apikey"))
        .then(|| rest.trim())
}

fn timestamp(raw: Option<&str>, cfg: &AuthConfig, now: i64) -> Result<i64, AuthError> {
    let ts: i64 = raw
        .ok_or(AuthError::InvalidSignature(
            "a signed request needs its timestamp header",
        ))?
        .parse()
        .map_err(|_| AuthError::InvalidSignature("the signature timestamp must be unix seconds"))?;
    // Both directions: an old request may be a replay; one from the future means a
    // clock so wrong that its "old" requests would be accepted for too long.
    // abs_diff: `now - ts` overflows for timestamps near i64::MIN (a panic in debug
    // builds, and in release a wrap that made one such value look fresh; found by
    // tests/it/proptests.rs).
    if now.abs_diff(ts) > cfg.tolerance_secs.max(0).unsigned_abs() {
        return Err(AuthError::StaleTimestamp(cfg.tolerance_secs));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    const NOW: i64 = 1_780_000_000;

    fn cfg() -> AuthConfig {
        AuthConfig::new(
            &[
                SecretString::from("old-secret"),
                SecretString::from("whsec_c2VjcmV0LWtleS1ieXRlcw=="),
            ],
            &[SecretString::from("key-1")],
            300,
        )
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn verify(h: &HeaderMap, body: &'static [u8]) -> Result<Method, AuthError> {
        Unverified::new(Bytes::from_static(body))
            .verify(&cfg(), h, NOW)
            .map(|v| v.method)
    }

    #[test]
    fn the_mac_is_hmac_sha256_by_the_rfc_4231_test_vectors() {
        // RFC 4231 test case 2: key "Jefe".
        let key = SigningKey::keyed(b"Jefe");
        assert_eq!(
            hex::encode(key.tag(&[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block is hashed first.
        let key = SigningKey::keyed(&[0xaa; 131]);
        assert_eq!(
            hex::encode(key.tag(&[b"Test Using Larger Than Block-Size Key - Hash Key First"])),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_cognigy_signature_with_a_rotated_secret_verifies() {
        let key = SigningKey::parse("whsec_c2VjcmV0LWtleS1ieXRlcw==").unwrap();
        let sig = key.sign_cognigy(NOW, b"{}");
        let h = headers(&[
            (COGNIGY_TIMESTAMP, &NOW.to_string()),
            (COGNIGY_SIGNATURE, &format!("sha256=00,{sig}")),
        ]);
        assert_eq!(verify(&h, b"{}"), Ok(Method::CognigyHmac));
    }

    #[test]
    fn a_tampered_body_is_an_invalid_signature() {
        let sig = SigningKey::parse("old-secret")
            .unwrap()
            .sign_cognigy(NOW, b"{}");
        let h = headers(&[
            (COGNIGY_TIMESTAMP, &NOW.to_string()),
            (COGNIGY_SIGNATURE, &sig),
        ]);
        assert_eq!(verify(&h, b"{ }").unwrap_err().code(), "invalid_signature");
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected() {
        let key = SigningKey::parse("old-secret").unwrap();
        for ts in [NOW - 301, NOW + 301] {
            let h = headers(&[
                (COGNIGY_TIMESTAMP, &ts.to_string()),
                (COGNIGY_SIGNATURE, &key.sign_cognigy(ts, b"{}")),
            ]);
            assert_eq!(verify(&h, b"{}"), Err(AuthError::StaleTimestamp(300)));
        }
    }

    #[test]
    fn standard_webhooks_signatures_verify_with_the_base64_key() {
        let key = SigningKey::parse("whsec_c2VjcmV0LWtleS1ieXRlcw==").unwrap();
        let sig = key.sign_standard("msg_1", NOW, b"{}");
        let h = headers(&[
            (WEBHOOK_ID, "msg_1"),
            (WEBHOOK_TIMESTAMP, &NOW.to_string()),
            (WEBHOOK_SIGNATURE, &format!("v1,bm9wZQ== {sig}")),
        ]);
        assert_eq!(verify(&h, b"{}"), Ok(Method::StandardWebhooks));
        let h = headers(&[
            (WEBHOOK_ID, "msg_2"),
            (WEBHOOK_TIMESTAMP, &NOW.to_string()),
            (WEBHOOK_SIGNATURE, &sig),
        ]);
        assert_eq!(verify(&h, b"{}").unwrap_err().code(), "invalid_signature");
    }

    #[test]
    fn api_keys_in_either_header_are_accepted_and_wrong_ones_refused() {
        assert_eq!(
            verify(&headers(&[(API_KEY, "key-1")]), b"{}"),
            Ok(Method::ApiKey)
        );
        assert_eq!(
            verify(&headers(&[("authorization", "Bearer key-1")]), b"{}"),
            Ok(Method::ApiKey)
        );
        assert_eq!(
            verify(&headers(&[("authorization", "ApiKey key-1")]), b"{}"),
            Ok(Method::ApiKey)
        );
        assert_eq!(
            verify(&headers(&[(API_KEY, "key-2")]), b"{}"),
            Err(AuthError::InvalidApiKey)
        );
    }

    #[test]
    fn a_bad_signature_is_not_rescued_by_a_good_key() {
        let h = headers(&[
            (API_KEY, "key-1"),
            (COGNIGY_TIMESTAMP, &NOW.to_string()),
            (COGNIGY_SIGNATURE, "sha256=00"),
        ]);
        assert_eq!(verify(&h, b"{}").unwrap_err().code(), "invalid_signature");
    }

    #[test]
    fn nothing_sent_is_missing_credentials_unless_nothing_is_configured() {
        assert_eq!(
            verify(&headers(&[]), b"{}"),
            Err(AuthError::MissingCredentials)
        );
        let open = AuthConfig::new(&[], &[], 300).unwrap();
        let v = Unverified::new(Bytes::from_static(b"{}"))
            .verify(&open, &headers(&[]), NOW)
            .unwrap();
        assert_eq!(v.method, Method::Open);
    }

    #[test]
    fn a_tolerance_above_i64_max_saturates_instead_of_refusing_every_timestamp() {
        let key = SigningKey::parse("s").unwrap();
        let cfg = AuthConfig::new(&[SecretString::from("s")], &[], u64::MAX).unwrap();
        assert_eq!(cfg.tolerance_secs, i64::MAX);
        let ts = NOW - 3600;
        let h = headers(&[
            (COGNIGY_TIMESTAMP, &ts.to_string()),
            (COGNIGY_SIGNATURE, &key.sign_cognigy(ts, b"{}")),
        ]);
        let v = Unverified::new(Bytes::from_static(b"{}")).verify(&cfg, &h, NOW);
        assert_eq!(v.map(|v| v.method), Ok(Method::CognigyHmac));
    }

    #[test]
    fn a_whsec_secret_that_is_not_base64_names_the_variable() {
        let err = SigningKey::parse("whsec_***").err().unwrap();
        assert!(err.contains("WEBHOOK_SIGNING_SECRETS"));
    }
}
