//! The webhook signature verifier on arbitrary headers and bodies. Beyond "never panics",
//! an oracle: whatever it lets in by a signature must carry a tag that really is the
//! HMAC of the signed content under one of the configured keys, with a timestamp inside
//! the tolerance; and a correctly signed request with a fresh timestamp is let in.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use handover_doctor::receiver::auth::{AuthConfig, Method, Unverified};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use sha2::Sha256;

const PLAIN: &str = "s3cret-for-fuzzing";
/// `whsec_` + base64 of the raw key bytes below.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const API_KEY: &str = "fuzz-api-key-0123456789";
const NOW: i64 = 1_780_000_000;
const TOLERANCE: i64 = 300;

#[derive(Debug, Arbitrary)]
enum Scheme {
    /// Headers exactly as the fuzzer made them.
    Raw,
    /// A correct Cognigy signature (plain secret or the whsec key) over the body.
    CognigyValid { whsec: bool, skew: i16 },
    /// A correct Standard Webhooks signature.
    StandardValid { whsec: bool, skew: i16, id: String },
}

#[derive(Debug, Arbitrary)]
struct Input {
    body: Vec<u8>,
    scheme: Scheme,
    cognigy_signature: Option<String>,
    cognigy_timestamp: Option<String>,
    webhook_id: Option<String>,
    webhook_timestamp: Option<String>,
    webhook_signature: Option<String>,
    api_key: Option<String>,
    authorization: Option<String>,
}

fn keys() -> Vec<Vec<u8>> {
    let raw = B64.decode(WHSEC.strip_prefix("whsec_").unwrap()).unwrap();
    vec![PLAIN.as_bytes().to_vec(), raw]
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn put(h: &mut HeaderMap, name: &'static str, value: &Option<String>) {
    if let Some(v) = value
        && let Ok(v) = HeaderValue::from_str(v)
    {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fuzz_target!(|input: Input| {
    let cfg = AuthConfig::new(
        &[SecretString::from(PLAIN), SecretString::from(WHSEC)],
        &[SecretString::from(API_KEY)],
        TOLERANCE as u64,
    )
    .unwrap();
    let mut h = HeaderMap::new();
    put(&mut h, "x-api-key", &input.api_key);
    put(&mut h, "authorization", &input.authorization);
    let mut must_accept = false;
    match &input.scheme {
        Scheme::Raw => {
            put(&mut h, "x-cognigy-signature", &input.cognigy_signature);
            put(&mut h, "x-cognigy-timestamp", &input.cognigy_timestamp);
            put(&mut h, "webhook-id", &input.webhook_id);
            put(&mut h, "webhook-timestamp", &input.webhook_timestamp);
            put(&mut h, "webhook-signature", &input.webhook_signature);
        }
        Scheme::CognigyValid { whsec, skew } => {
            let ts = NOW + i64::from(*skew);
            let key = &keys()[usize::from(*whsec)];
            let tag = hex::encode(mac(key, &[ts.to_string().as_bytes(), b".", &input.body]));
            put(&mut h, "x-cognigy-timestamp", &Some(ts.to_string()));
            put(&mut h, "x-cognigy-signature", &Some(format!("sha256={tag}")));
            must_accept = (ts - NOW).abs() <= TOLERANCE;
        }
        Scheme::StandardValid { whsec, skew, id } => {
            let ts = NOW + i64::from(*skew);
            let key = &keys()[usize::from(*whsec)];
            let tag = B64.encode(mac(key, &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", &input.body]));
            put(&mut h, "webhook-id", &Some(id.clone()));
            put(&mut h, "webhook-timestamp", &Some(ts.to_string()));
            put(&mut h, "webhook-signature", &Some(format!("v1,{tag}")));
            // A header value must be visible ASCII for the id to arrive as sent.
            must_accept = (ts - NOW).abs() <= TOLERANCE
                && header(&h, "webhook-id") == Some(id.as_str());
        }
    }
    let body = Bytes::from(input.body.clone());
    let result = Unverified::new(body).verify(&cfg, &h, NOW);
    if must_accept {
        assert!(result.is_ok(), "a correctly signed fresh request was refused: {result:?}");
    }
    let Ok(verified) = result else { return };
    assert_eq!(verified.body(), &input.body[..]);
    let fresh = |ts: Option<&str>| {
        ts.and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t.abs_diff(NOW) <= TOLERANCE as u64)
    };
    match verified.method {
        Method::CognigyHmac => {
            let ts = header(&h, "x-cognigy-timestamp");
            assert!(fresh(ts), "accepted a stale or missing timestamp: {ts:?}");
            let ts = ts.unwrap().parse::<i64>().unwrap().to_string();
            let expected: Vec<Vec<u8>> = keys()
                .iter()
                .map(|k| mac(k, &[ts.as_bytes(), b".", &input.body]))
                .collect();
            let sigs = header(&h, "x-cognigy-signature").unwrap();
            let genuine = sigs.split(',').any(|s| {
                s.trim()
                    .strip_prefix("sha256=")
                    .and_then(|t| hex::decode(t).ok())
                    .is_some_and(|t| expected.contains(&t))
            });
            assert!(genuine, "accepted X-Cognigy-Signature {sigs:?} without a genuine tag");
        }
        Method::StandardWebhooks => {
            let ts = header(&h, "webhook-timestamp");
            assert!(fresh(ts), "accepted a stale or missing timestamp: {ts:?}");
            let ts = ts.unwrap().parse::<i64>().unwrap().to_string();
            let id = header(&h, "webhook-id").unwrap();
            let expected: Vec<Vec<u8>> = keys()
                .iter()
                .map(|k| mac(k, &[id.as_bytes(), b".", ts.as_bytes(), b".", &input.body]))
                .collect();
            let sigs = header(&h, "webhook-signature").unwrap();
            let genuine = sigs.split(' ').any(|s| {
                s.trim()
                    .strip_prefix("v1,")
                    .and_then(|t| B64.decode(t).ok())
                    .is_some_and(|t| expected.contains(&t))
            });
            assert!(genuine, "accepted webhook-signature {sigs:?} without a genuine tag");
        }
        Method::ApiKey => {
            assert!(
                header(&h, "x-cognigy-signature").is_none() && header(&h, "webhook-signature").is_none(),
                "a signed request must be judged by its signature alone"
            );
        }
        Method::Open => panic!("credentials are configured: nothing may get in unauthenticated"),
    }
});
