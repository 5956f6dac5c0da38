//! Property tests of what parses untrusted bytes: the event parser (and, with the receiver,
//! the signature verifier). They run with every `cargo test` on stable; the
//! coverage-guided fuzzing of the same code (cargo-fuzz, nightly) is `bench/fuzz.sh`.
//!
//! The default number of cases keeps `cargo test` quick; a long run is
//! `PROPTEST_CASES=200000 cargo test --release --test it proptests`. Failures found are
//! persisted by proptest under `proptest-regressions/` and replayed first on every run; the
//! inputs they found are also pinned as plain tests at the bottom of this file.

use handover_doctor::event::{EventError, HandoverEvent, MAX_ID_LEN};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Values a Cognigy template can produce for a field: absent-ish, strings of every kind,
/// numbers as numbers and as strings, times, statuses, and now and then an object.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        3 => Just(json!("")),
        1 => Just(json!("   ")),
        6 => "[a-zA-Z0-9_.:-]{1,24}".prop_map(Value::String),
        2 => "\\PC{0,300}".prop_map(Value::String),
        1 => "[a-z]{250,262}".prop_map(Value::String),
        2 => any::<i64>().prop_map(|n| json!(n)),
        2 => (100u64..700).prop_map(|n| json!(n.to_string())),
        1 => (0u64..1000).prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => rfc3339().prop_map(Value::String),
        1 => (-100_000_000_000_000i64..100_000_000_000_000_000).prop_map(|n| json!(n)),
        1 => (-100_000_000_000_000i64..100_000_000_000_000_000).prop_map(|n| json!(n.to_string())),
        1 => any_json(),
    ]
}

fn rfc3339() -> impl Strategy<Value = String> {
    (
        1i32..10000,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![
            Just("Z".to_string()),
            Just(String::new()),
            (-14i32..15).prop_map(|h| format!("{h:+03}:00"))
        ],
        prop::option::of(0u32..1_000_000_000),
    )
        .prop_map(|(y, mo, d, h, mi, s, off, frac)| {
            let frac = frac.map(|f| format!(".{f:09}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        })
}

/// A sub-object with some of the given keys (camelCase or snake_case) set to field values.
fn section(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (prop::sample::select(keys), any::<bool>(), field_value()),
        0..keys.len() + 2,
    )
    .prop_map(|entries| {
        let mut m = Map::new();
        for (k, snake, v) in entries {
            let k = if snake { to_snake(k) } else { k.to_string() };
            m.insert(k, v);
        }
        Value::Object(m)
    })
}

fn to_snake(k: &str) -> String {
    let mut out = String::new();
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

const FLOW: &[&str] = &[
    "projectId",
    "flowName",
    "endpointType",
    "channel",
    "environment",
];
const CXONE: &[&str] = &[
    "businessUnit",
    "masterContactId",
    "contactId",
    "spawnedContactId",
];
const HANDOVER: &[&str] = &[
    "mechanism",
    "requestedAction",
    "targetSkill",
    "signalResult",
    "extensionError",
    "codeError",
    "providerStatus",
    "providerErrorReason",
    "providerErrorMessage",
];
const VOICE: &[&str] = &[
    "event",
    "callSid",
    "sipCallId",
    "callStatus",
    "sipStatus",
    "sipReason",
    "referStatus",
    "dialSipStatus",
    "dialCallStatus",
];
const MECHANISMS: &[&str] = &[
    "cxone_signal",
    "handover_provider",
    "vg_transfer",
    "Signal",
    "exit-interaction",
    "transfer",
    "bogus",
];

/// An event-shaped object; `conversation` decides what `conversationId` holds (None: absent).
fn event_object(
    conversation: impl Strategy<Value = Option<Value>>,
) -> impl Strategy<Value = Value> {
    (
        conversation,
        any::<bool>(),
        prop::collection::vec(("[a-zA-Z]{1,12}", field_value()), 0..4),
        prop::option::of(field_value()),
        prop::option::of(field_value()),
        prop::option::of(field_value()),
        (
            prop::option::of(section(FLOW)),
            prop::option::of(section(CXONE)),
            prop::option::of(section(HANDOVER)),
            prop::option::of(prop::sample::select(MECHANISMS)),
            prop::option::of(section(VOICE)),
            prop::option::of(prop_oneof![
                section(&["routingData", "customerInfo", "language"]),
                field_value()
            ]),
            prop::option::of(prop::collection::vec(field_value(), 0..4)),
        ),
    )
        .prop_map(
            |(conv, snake, extra, event_id, occurred_at, user_id, sections)| {
                let (flow, cxone, handover, mechanism, voice, context, context_keys) = sections;
                let mut m = Map::new();
                for (k, v) in extra {
                    m.insert(k, v);
                }
                if let Some(c) = conv {
                    let key = if snake {
                        "conversation_id"
                    } else {
                        "conversationId"
                    };
                    m.insert(key.into(), c);
                }
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                };
                put("eventId", event_id);
                put("occurredAt", occurred_at);
                put("userId", user_id);
                put("flow", flow);
                put("cxone", cxone);
                let handover = handover.map(|mut h| {
                    if let (Some(mech), Value::Object(o)) = (mechanism, &mut h) {
                        o.insert("mechanism".into(), json!(mech));
                    }
                    h
                });
                put("handover", handover);
                put("voice", voice);
                put("context", context);
                put("contextKeys", context_keys.map(Value::Array));
                Value::Object(m)
            },
        )
}

/// A `conversationId` that is present and usable.
fn some_conversation_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => "[a-zA-Z0-9-]{1,40}".prop_map(|s| Some(json!(s))),
        1 => "[a-z]{250,256}".prop_map(|s| Some(json!(s))),
        1 => "\\PC{1,60}".prop_map(|s| Some(json!(s))),
        1 => any::<u64>().prop_map(|n| Some(json!(n))),
        1 => field_value().prop_map(Some),
    ]
}

/// A `conversationId` that is absent, or present but empty.
fn no_conversation_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        Just(Some(json!(""))),
        "[ \t\n\r]{1,5}".prop_map(|s| Some(json!(s))),
        Just(Some(json!({}))),
        Just(Some(json!([]))),
    ]
}

/// What every accepted event must satisfy, and that its canonical form is a fixed point.
fn check_canonical(event: &HandoverEvent) -> Result<(), TestCaseError> {
    prop_assert!(!event.conversation_id.is_empty());
    prop_assert_eq!(event.conversation_id.trim(), event.conversation_id.as_str());
    prop_assert!(event.conversation_id.chars().count() <= MAX_ID_LEN);
    prop_assert!(!event.event_id.is_empty());
    prop_assert!(
        event.event_id.chars().count() <= MAX_ID_LEN,
        "event id of {} chars: {:?}",
        event.event_id.chars().count(),
        event.event_id
    );
    let canonical = event.to_json();
    let back = HandoverEvent::from_json(&canonical);
    prop_assert_eq!(
        back.as_ref(),
        Ok(event),
        "canonical form: {}",
        String::from_utf8_lossy(&canonical)
    );
    prop_assert_eq!(back.unwrap().to_json(), canonical);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = HandoverEvent::parse(&body);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_json(value in any_json()) {
        if let Ok(event) = HandoverEvent::parse(value.to_string().as_bytes()) {
            check_canonical(&event)?;
        }
    }

    #[test]
    fn a_mangled_event_body_never_panics_the_parser(
        value in event_object(some_conversation_id()),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in any::<prop::sample::Index>(),
    ) {
        let mut body = value.to_string().into_bytes();
        for (at, byte) in cuts {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = HandoverEvent::parse(&body);
        let _ = HandoverEvent::parse(&body[..truncate.index(body.len() + 1)]);
    }

    #[test]
    fn every_accepted_event_round_trips_through_its_canonical_form(
        value in event_object(some_conversation_id()),
    ) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Ok(event) = HandoverEvent::parse(&body) {
            // A webhook always carries the receiver's stamp, and never a scanner's id.
            prop_assert!(event.received_at.is_some());
            prop_assert!(!event.event_id.starts_with("scan:"), "{}", event.event_id);
            check_canonical(&event)?;
        }
    }

    #[test]
    fn every_body_without_a_conversation_id_is_refused(
        value in event_object(no_conversation_id()),
    ) {
        let body = serde_json::to_vec(&value).unwrap();
        prop_assert_eq!(HandoverEvent::parse(&body), Err(EventError::MissingConversationId));
    }
}

// What the properties found, pinned so they stay fixed whatever proptest's seed.

#[test]
fn a_conversation_id_at_the_limit_still_gives_a_canonical_form_that_parses_back() {
    let body = json!({ "conversationId": "a".repeat(MAX_ID_LEN) }).to_string();
    let event = HandoverEvent::parse(body.as_bytes()).unwrap();
    assert!(event.event_id.chars().count() <= MAX_ID_LEN);
    assert_eq!(HandoverEvent::from_json(&event.to_json()), Ok(event));
}

#[test]
fn an_epoch_in_milliseconds_past_year_9999_is_refused_not_accepted_unwritable() {
    let body = json!({ "conversationId": "0", "occurredAt": "253402300826820" }).to_string();
    assert!(matches!(
        HandoverEvent::parse(body.as_bytes()),
        Err(EventError::InvalidField { ref field, .. }) if field == "occurredAt"
    ));
}

// ---------------------------------------------------------------- the signature verifier

mod verifier {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use actix_web::web::Bytes;
    use handover_doctor::receiver::auth::{
        API_KEY, AuthConfig, AuthError, COGNIGY_SIGNATURE, COGNIGY_TIMESTAMP, Method, SigningKey,
        Unverified, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    };
    use proptest::prelude::*;
    use secrecy::SecretString;

    const NOW: i64 = 1_780_000_000;
    const TOLERANCE: u64 = 300;

    fn config(secrets: &[String], keys: &[String]) -> AuthConfig {
        let s: Vec<SecretString> = secrets
            .iter()
            .map(|s| SecretString::from(s.clone()))
            .collect();
        let k: Vec<SecretString> = keys.iter().map(|s| SecretString::from(s.clone())).collect();
        AuthConfig::new(&s, &k, TOLERANCE).unwrap()
    }

    fn headers(pairs: &[(&str, Vec<u8>)]) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                // Not every byte string is a legal header value; such a request never
                // reaches the verifier.
                HeaderValue::from_bytes(value).ok()?,
            );
        }
        Some(h)
    }

    fn verify(cfg: &AuthConfig, h: &HeaderMap, body: &[u8]) -> Result<Method, AuthError> {
        Unverified::new(Bytes::copy_from_slice(body))
            .verify(cfg, h, NOW)
            .map(|v| v.method)
    }

    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9_-]{1,64}",
            prop::collection::vec(any::<u8>(), 1..48).prop_map(|b| {
                use base64::Engine;
                format!(
                    "whsec_{}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }),
        ]
    }

    /// Header values as an attacker may send them: numbers of every size, garbage, and
    /// well-formed-looking signatures.
    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // The edges a fuzzer's dictionary would try: where `now - ts` overflows.
            prop::sample::select(vec![
                i64::MIN,
                i64::MIN + 1,
                NOW - i64::MAX - 1,
                NOW - i64::MAX,
                i64::MAX,
                -1,
                0
            ])
            .prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (NOW - 400..NOW + 400).prop_map(|n| n.to_string().into_bytes()),
            "[ -~]{0,80}".prop_map(String::into_bytes),
            "(sha256=[0-9a-fA-F]{0,70},?){1,4}".prop_map(String::into_bytes),
            "(v1,[A-Za-z0-9+/=]{0,50} ?){1,4}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..40),
        ]
    }

    fn flip(bytes: &mut [u8], bit: usize) {
        bytes[bit / 8] ^= 1 << (bit % 8);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn the_verifier_never_panics_on_arbitrary_headers(
            secrets in prop::collection::vec(secret(), 0..3),
            keys in prop::collection::vec("[a-z0-9]{1,16}", 0..2),
            names in prop::collection::vec(
                prop::sample::select(vec![
                    COGNIGY_TIMESTAMP, COGNIGY_SIGNATURE, WEBHOOK_ID, WEBHOOK_TIMESTAMP,
                    WEBHOOK_SIGNATURE, API_KEY, "authorization",
                ]),
                0..6,
            ),
            values in prop::collection::vec(header_value(), 6),
            body in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let cfg = config(&secrets, &keys);
            let pairs: Vec<_> = names.iter().zip(values).map(|(n, v)| (*n, v)).collect();
            if let Some(h) = headers(&pairs) {
                let _ = verify(&cfg, &h, &body);
            }
        }

        #[test]
        fn a_valid_cognigy_signature_over_any_body_verifies(
            secrets in prop::collection::vec(secret(), 1..4),
            which in any::<prop::sample::Index>(),
            body in prop::collection::vec(any::<u8>(), 0..4096),
            skew in -(TOLERANCE as i64)..=(TOLERANCE as i64),
        ) {
            let cfg = config(&secrets, &[]);
            let key = SigningKey::parse(which.get::<String>(&secrets)).unwrap();
            let ts = NOW + skew;
            let h = headers(&[
                (COGNIGY_TIMESTAMP, ts.to_string().into_bytes()),
                (COGNIGY_SIGNATURE, key.sign_cognigy(ts, &body).into_bytes()),
            ]).unwrap();
            prop_assert_eq!(verify(&cfg, &h, &body), Ok(Method::CognigyHmac));
        }

        #[test]
        fn any_single_bit_flip_of_body_signature_or_timestamp_fails(
            secret in secret(),
            body in prop::collection::vec(any::<u8>(), 1..2048),
            skew in -(TOLERANCE as i64)..=(TOLERANCE as i64),
            target in 0..3u8,
            bit in any::<prop::sample::Index>(),
        ) {
            let cfg = config(std::slice::from_ref(&secret), &[]);
            let key = SigningKey::parse(&secret).unwrap();
            let ts = NOW + skew;
            let signature = key.sign_cognigy(ts, &body);
            let mut tag = hex::decode(signature.strip_prefix("sha256=").unwrap()).unwrap();
            let mut body = body;
            let mut ts_text = ts.to_string().into_bytes();
            match target {
                0 => { let n = body.len() * 8; flip(&mut body, bit.index(n)) }
                1 => { let n = tag.len() * 8; flip(&mut tag, bit.index(n)) }
                _ => { let n = ts_text.len() * 8; flip(&mut ts_text, bit.index(n)) }
            }
            let sig = format!("sha256={}", hex::encode(&tag));
            // A flip may make the timestamp an illegal header value: nothing to verify then.
            let Some(h) = headers(&[(COGNIGY_TIMESTAMP, ts_text), (COGNIGY_SIGNATURE, sig.into_bytes())]) else {
                return Ok(());
            };
            let result = verify(&cfg, &h, &body);
            prop_assert!(
                matches!(result, Err(AuthError::InvalidSignature(_) | AuthError::StaleTimestamp(_))),
                "{:?}", result
            );
        }

        #[test]
        fn a_valid_standard_webhooks_signature_verifies_and_a_flipped_one_fails(
            secret in secret(),
            id in "msg_[a-zA-Z0-9]{1,24}",
            body in prop::collection::vec(any::<u8>(), 0..2048),
            skew in -(TOLERANCE as i64)..=(TOLERANCE as i64),
            bit in any::<prop::sample::Index>(),
        ) {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            let cfg = config(std::slice::from_ref(&secret), &[]);
            let key = SigningKey::parse(&secret).unwrap();
            let ts = NOW + skew;
            let sig = key.sign_standard(&id, ts, &body);
            let good = headers(&[
                (WEBHOOK_ID, id.clone().into_bytes()),
                (WEBHOOK_TIMESTAMP, ts.to_string().into_bytes()),
                (WEBHOOK_SIGNATURE, sig.clone().into_bytes()),
            ]).unwrap();
            prop_assert_eq!(verify(&cfg, &good, &body), Ok(Method::StandardWebhooks));

            let mut tag = b64.decode(sig.strip_prefix("v1,").unwrap()).unwrap();
            let n = tag.len() * 8;
            flip(&mut tag, bit.index(n));
            let bad = headers(&[
                (WEBHOOK_ID, id.into_bytes()),
                (WEBHOOK_TIMESTAMP, ts.to_string().into_bytes()),
                (WEBHOOK_SIGNATURE, format!("v1,{}", b64.encode(&tag)).into_bytes()),
            ]).unwrap();
            prop_assert!(matches!(verify(&cfg, &bad, &body), Err(AuthError::InvalidSignature(_))));
        }

        #[test]
        fn an_api_key_verifies_exactly_and_any_single_bit_flip_is_refused(
            key in "[a-zA-Z0-9]{8,40}",
            bit in any::<prop::sample::Index>(),
        ) {
            let cfg = config(&[], std::slice::from_ref(&key));
            let good = headers(&[(API_KEY, key.clone().into_bytes())]).unwrap();
            prop_assert_eq!(verify(&cfg, &good, b"{}"), Ok(Method::ApiKey));
            let mut flipped = key.into_bytes();
            let n = flipped.len() * 8;
            flip(&mut flipped, bit.index(n));
            if let Some(h) = headers(&[(API_KEY, flipped)]) {
                let result = verify(&cfg, &h, b"{}");
                prop_assert!(
                    matches!(result, Err(AuthError::InvalidApiKey | AuthError::MissingCredentials)),
                    "{:?}", result
                );
            }
        }
    }

    // What the properties found, pinned.

    #[test]
    fn a_timestamp_where_now_minus_ts_overflows_is_stale_not_a_panic() {
        let cfg = config(&["s".to_string()], &[]);
        for ts in [i64::MIN, NOW - i64::MAX - 1] {
            let h = headers(&[
                (COGNIGY_TIMESTAMP, ts.to_string().into_bytes()),
                (COGNIGY_SIGNATURE, b"sha256=00".to_vec()),
            ])
            .unwrap();
            assert_eq!(
                verify(&cfg, &h, b"{}"),
                Err(AuthError::StaleTimestamp(TOLERANCE as i64))
            );
        }
    }

    #[test]
    fn a_valid_signature_among_thousands_of_bogus_ones_still_verifies() {
        let cfg = config(&["s".to_string()], &[]);
        let sig = SigningKey::parse("s").unwrap().sign_cognigy(NOW, b"{}");
        let mut list = vec!["sha256=00".to_string(); 3000];
        list.push(sig);
        let h = headers(&[
            (COGNIGY_TIMESTAMP, NOW.to_string().into_bytes()),
            (COGNIGY_SIGNATURE, list.join(",").into_bytes()),
        ])
        .unwrap();
        assert_eq!(verify(&cfg, &h, b"{}"), Ok(Method::CognigyHmac));
    }
}
