//! Where the receiver's time goes, step by step, without a network or a broker: each step
//! of the request path (verify, parse, re-serialise, AMQP properties, metrics, the 202
//! body) timed in a loop over the same ~1.5 KB signed events `bench/ingest.sh` sends.
//!
//! ```text
//! cargo run --release --features bench --example ingest_costs [EVENT.json]
//! ```
//!
//! With no file it builds a representative event itself. Prints nanoseconds per call of
//! each step; compare with the CPU time per request `bench/ingest.sh` reports for the
//! minimal and the full receiver (the difference is what the steps below must explain).

use std::hint::black_box;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use handover_doctor::event::HandoverEvent;
use handover_doctor::metrics::Metrics;
use handover_doctor::receiver::accepted_body;
use handover_doctor::receiver::auth::{
    AuthConfig, COGNIGY_SIGNATURE, COGNIGY_TIMESTAMP, SigningKey, Unverified,
};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use sha2::Sha256;

const ROUNDS: u32 = 100_000;

/// Nanoseconds per call of `f`: the best of five batches (a shared 2-core VM's neighbours
/// and frequency changes only ever add time).
fn time<T>(name: &str, mut f: impl FnMut() -> T) -> Duration {
    for _ in 0..ROUNDS / 10 {
        black_box(f());
    }
    let per = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUNDS / 5 {
                black_box(f());
            }
            start.elapsed() / (ROUNDS / 5)
        })
        .min()
        .unwrap_or_default();
    println!("{name:<44} {:>8} ns", per.as_nanos());
    per
}

fn sample_event() -> Vec<u8> {
    let notes = "caller asked for an agent twice; ".repeat(21);
    serde_json::json!({
        "eventId": "bench-costs-1", "occurredAt": "2026-05-12T14:26:58Z",
        "conversationId": "conv-costs-1", "userId": "+4915112345678", "traceId": "trace-1",
        "flow": {"projectId": "6470b3b5c2b7f1a9e0d4c123", "flowName": "Voice Main Flow",
                 "endpointType": "voiceGateway2", "channel": "voice", "environment": "prod-eu"},
        "cxone": {"businessUnit": "4601234", "masterContactId": "745512889988",
                  "contactId": "745512890000"},
        "handover": {"requestedAction": "Escalate", "targetSkill": "Support_Voice_EN",
                     "mechanism": "cxone_signal",
                     "signalResult": "{\"status\":403,\"message\":\"Forbidden\"}",
                     "extensionError": "Request failed with status code 403"},
        "voice": {"callSid": "call-1", "sipCallId": "1@10.0.0.1"},
        "context": {"routingData": {"language": "en-US", "intent": "billing_question", "priority": 3},
                    "customerInfo": {"tier": "gold", "accountId": "A-00000001"}, "notes": notes}
    })
    .to_string()
    .into_bytes()
}

fn main() -> anyhow::Result<()> {
    let body = match std::env::args().nth(1) {
        Some(path) => std::fs::read(path)?,
        None => sample_event(),
    };
    println!(
        "event body: {} bytes, best of 5 batches of {} calls per step\n",
        body.len(),
        ROUNDS / 5
    );

    let secret = "bench-secret";
    let auth =
        AuthConfig::new(&[SecretString::from(secret)], &[], 300).map_err(anyhow::Error::msg)?;
    let now = chrono::Utc::now().timestamp();
    let sig = SigningKey::parse(secret)
        .map_err(anyhow::Error::msg)?
        .sign_cognigy(now, &body);
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static(COGNIGY_TIMESTAMP),
        HeaderValue::from_str(&now.to_string())?,
    );
    headers.insert(
        HeaderName::from_static(COGNIGY_SIGNATURE),
        HeaderValue::from_str(&sig)?,
    );
    let bytes = Bytes::from(body.clone());

    let mut total = Duration::ZERO;
    total += time("verify (Cognigy HMAC, one secret)", || {
        Unverified::new(bytes.clone())
            .verify(&auth, &headers, now)
            .is_ok()
    });
    total += time("HandoverEvent::parse", || {
        HandoverEvent::parse(&body).is_ok()
    });
    let event = HandoverEvent::parse(&body).map_err(anyhow::Error::msg)?;
    total += time("HandoverEvent::to_json (canonical form)", || {
        event.to_json()
    });
    total += time("OutMessage fields (id, conversation clones)", || {
        (event.event_id.clone(), event.conversation_id.clone())
    });
    let metrics = Metrics::new();
    total += time("metrics.webhook_accepted()", || metrics.webhook_accepted());
    total += time("202 body", || accepted_body(&event.event_id));
    total += time("chrono::Utc::now()", chrono::Utc::now);
    println!(
        "{:<44} {:>8} ns",
        "sum of the steps above",
        total.as_nanos()
    );

    // An unauthenticated request that lists thousands of candidate signatures over the
    // largest body allowed: what one such request costs the verifier.
    let big = Bytes::from(vec![b'x'; 262_144]);
    let mut bogus = HeaderMap::new();
    bogus.insert(
        HeaderName::from_static(COGNIGY_TIMESTAMP),
        HeaderValue::from_str(&now.to_string())?,
    );
    bogus.insert(
        HeaderName::from_static(COGNIGY_SIGNATURE),
        HeaderValue::from_str(&vec!["sha256=00"; 3000].join(","))?,
    );
    let start = Instant::now();
    let refused = Unverified::new(big).verify(&auth, &bogus, now).is_err();
    println!(
        "{:<44} {:>8} us (refused: {refused})",
        "verify: 3,000 bogus signatures, 256 KiB body",
        start.elapsed().as_micros()
    );

    // What the verifier's MAC cost before it moved to aws-lc: RustCrypto's, pre-keyed.
    let rustcrypto = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())?;
    let ts = now.to_string();
    time("(scale) the same MAC with RustCrypto hmac+sha2", || {
        let mut mac = rustcrypto.clone();
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(&body);
        mac.finalize().into_bytes()
    });

    // For scale: only scanning the body (what no JSON parser can avoid), then a Value.
    time("(scale) serde_json scan only (IgnoredAny)", || {
        serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok()
    });
    time("(scale) UTF-8 check of the body", || {
        std::str::from_utf8(&body).is_ok()
    });
    // For scale: parsing into a Value alone, as a bound on what any tolerant parser costs.
    time("(scale) serde_json::from_slice::<Value>", || {
        serde_json::from_slice::<serde_json::Value>(&body).is_ok()
    });
    Ok(())
}
