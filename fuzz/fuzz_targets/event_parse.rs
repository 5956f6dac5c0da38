//! The event parser on arbitrary bytes: it must never panic, and whatever it accepts must
//! round-trip through the canonical form the receiver queues (the worker reads that form
//! back with `from_json`; an event that could not be read back would be dead-lettered
//! after its 202). The receive time is fixed so a run is repeatable.
#![no_main]

use chrono::{TimeZone, Utc};
use handover_doctor::event::{HandoverEvent, MAX_ID_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let received = Utc.with_ymd_and_hms(2026, 5, 12, 14, 27, 1).unwrap();
    let Ok(event) = HandoverEvent::parse_received(data, received) else {
        return;
    };
    let id_ok = |s: &str| !s.is_empty() && s.trim() == s && s.chars().count() <= MAX_ID_LEN;
    assert!(id_ok(&event.conversation_id), "{:?}", event.conversation_id);
    assert!(id_ok(&event.event_id), "{:?}", event.event_id);
    let canonical = event.to_json();
    let back = HandoverEvent::from_json(&canonical).expect("the canonical form reads back");
    assert_eq!(back, event, "the canonical form round-trips");
});
