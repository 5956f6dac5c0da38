//! The event parser on arbitrary bytes: it must never panic, and whatever it accepts must
//! round-trip through the canonical form the receiver queues (the worker parses that form
//! back; an event that could not be read back would be dead-lettered after its 202).
#![no_main]

use handover_doctor::event::{HandoverEvent, MAX_ID_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = HandoverEvent::parse(data) else {
        return;
    };
    let id_ok = |s: &str| !s.is_empty() && s.trim() == s && s.chars().count() <= MAX_ID_LEN;
    assert!(id_ok(&event.conversation_id), "{:?}", event.conversation_id);
    assert!(id_ok(&event.event_id), "{:?}", event.event_id);
    let canonical = event.to_json();
    let back = HandoverEvent::parse(&canonical).expect("the canonical form parses back");
    assert_eq!(back, event, "the canonical form round-trips");
});
