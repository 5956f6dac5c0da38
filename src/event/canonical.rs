//! The canonical JSON writer: the bytes `serde_json::to_vec(&event)` would give, written
//! by hand because the receiver writes one per request.
//!
//! Through serde, a string goes through the serializer's escaping loop byte by byte and
//! a time through chrono's `Display`; here a string that needs no escape (nearly all of
//! them) is copied as it is, and a time to the millisecond (every `receivedAt`, most
//! `occurredAt`) is written digit by digit. Anything else falls back to serde, so the
//! output stays byte-identical: the tests, the property tests and the fuzz target compare
//! it with serde's on every event they make.

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::{CxoneIds, FlowInfo, HandoverEvent, HandoverInfo, Mechanism, VoiceInfo};

/// Writes `event` as serde would (field order, camelCase names, absent options skipped).
pub(super) fn write(event: &HandoverEvent, out: &mut Vec<u8>) {
    // Destructured without `..`: a new field does not compile until it is written here.
    let HandoverEvent {
        event_id,
        occurred_at,
        received_at,
        conversation_id,
        user_id,
        trace_id,
        flow,
        cxone,
        handover,
        voice,
        context_keys,
    } = event;
    let mut o = Object::open(out);
    o.str("eventId", event_id);
    o.opt_time("occurredAt", occurred_at.as_ref());
    o.opt_time("receivedAt", received_at.as_ref());
    o.str("conversationId", conversation_id);
    o.opt_str("userId", user_id.as_deref());
    o.opt_str("traceId", trace_id.as_deref());

    let FlowInfo {
        project_id,
        flow_name,
        endpoint_type,
        channel,
        environment,
    } = flow;
    let mut f = o.object("flow");
    f.opt_str("projectId", project_id.as_deref());
    f.opt_str("flowName", flow_name.as_deref());
    f.opt_str("endpointType", endpoint_type.as_deref());
    f.opt_str("channel", channel.as_deref());
    f.opt_str("environment", environment.as_deref());
    f.close();

    let CxoneIds {
        business_unit,
        master_contact_id,
        contact_id,
    } = cxone;
    let mut c = o.object("cxone");
    c.opt_str("businessUnit", business_unit.as_deref());
    c.opt_str("masterContactId", master_contact_id.as_deref());
    c.opt_str("contactId", contact_id.as_deref());
    c.close();

    let HandoverInfo {
        mechanism,
        requested_action,
        target_skill,
        signal_result,
        extension_error,
        code_error,
        provider_status,
        provider_error_reason,
        provider_error_message,
    } = handover;
    let mut h = o.object("handover");
    h.opt_str("mechanism", mechanism.map(Mechanism::as_str));
    h.opt_str("requestedAction", requested_action.as_deref());
    h.opt_str("targetSkill", target_skill.as_deref());
    h.opt_str("signalResult", signal_result.as_deref());
    h.opt_str("extensionError", extension_error.as_deref());
    h.opt_str("codeError", code_error.as_deref());
    h.opt_str("providerStatus", provider_status.as_deref());
    h.opt_str("providerErrorReason", provider_error_reason.as_deref());
    h.opt_str("providerErrorMessage", provider_error_message.as_deref());
    h.close();

    let VoiceInfo {
        event,
        call_sid,
        sip_call_id,
        call_status,
        sip_status,
        sip_reason,
        refer_status,
        dial_sip_status,
        dial_call_status,
    } = voice;
    let mut v = o.object("voice");
    v.opt_str("event", event.as_deref());
    v.opt_str("callSid", call_sid.as_deref());
    v.opt_str("sipCallId", sip_call_id.as_deref());
    v.opt_str("callStatus", call_status.as_deref());
    v.opt_u16("sipStatus", *sip_status);
    v.opt_str("sipReason", sip_reason.as_deref());
    v.opt_u16("referStatus", *refer_status);
    v.opt_u16("dialSipStatus", *dial_sip_status);
    v.opt_str("dialCallStatus", dial_call_status.as_deref());
    v.close();

    if !context_keys.is_empty() {
        o.key("contextKeys");
        o.out.push(b'[');
        for (i, k) in context_keys.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            string(o.out, k);
        }
        o.out.push(b']');
    }
    o.close();
}

/// A JSON string as serde_json writes it: quoted, with `"`, `\` and control characters
/// escaped and everything else (non-ASCII included) as it is.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *out, s).expect("a string always serialises");
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// A time as chrono's `Serialize` writes it: RFC 3339 with `Z` and as many fraction
/// digits as needed (none, 3, 6 or 9).
fn time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    // Once: each accessor of a `DateTime` would redo the offset arithmetic.
    let n = t.naive_utc();
    let ns = n.nanosecond();
    let year = n.year();
    // The common shapes by hand; leap seconds, micro/nanoseconds and years RFC 3339 cannot
    // write in four digits through chrono itself.
    if !(0..=9999).contains(&year) || ns >= 1_000_000_000 || !ns.is_multiple_of(1_000_000) {
        serde_json::to_writer(&mut *out, t).expect("a time always serialises");
        return;
    }
    let mut buf = *b"\"0000-00-00T00:00:00.000Z\"";
    let digits = |buf: &mut [u8], at: usize, n: u32, width: usize| {
        let mut n = n;
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(&mut buf, 1, year as u32, 4);
    digits(&mut buf, 6, n.month(), 2);
    digits(&mut buf, 9, n.day(), 2);
    digits(&mut buf, 12, n.hour(), 2);
    digits(&mut buf, 15, n.minute(), 2);
    digits(&mut buf, 18, n.second(), 2);
    if ns == 0 {
        out.extend_from_slice(&buf[..20]);
        out.extend_from_slice(b"Z\"");
    } else {
        digits(&mut buf, 21, ns / 1_000_000, 3);
        out.extend_from_slice(&buf);
    }
}

/// An object being written: commas between members, absent options left out.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Keys are the struct's own camelCase names: nothing to escape.
    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(self.out, value);
    }

    fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    fn opt_time(&mut self, key: &str, value: Option<&DateTime<Utc>>) {
        if let Some(t) = value {
            self.key(key);
            time(self.out, t);
        }
    }

    fn opt_u16(&mut self, key: &str, value: Option<u16>) {
        if let Some(n) = value {
            self.key(key);
            // serde_json's own integer writer: at most three per event, not worth a copy.
            serde_json::to_writer(&mut *self.out, &n).expect("a number always serialises");
        }
    }

    fn object(&mut self, key: &str) -> Object<'_> {
        self.key(key);
        Object::open(self.out)
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn serde(e: &HandoverEvent) -> String {
        serde_json::to_string(e).unwrap()
    }

    fn ours(e: &HandoverEvent) -> String {
        String::from_utf8(e.to_json()).unwrap()
    }

    /// Every field set, with values that need escaping: written without `..` so a new
    /// field must be added here (and to the writer) before this compiles.
    fn full() -> HandoverEvent {
        let s = |v: &str| Some(v.to_string());
        HandoverEvent {
            event_id: "e-\"1\"".into(),
            occurred_at: Some(Utc.with_ymd_and_hms(2026, 5, 12, 14, 26, 58).unwrap()),
            received_at: Some(
                Utc.with_ymd_and_hms(2026, 5, 12, 14, 27, 1).unwrap()
                    + chrono::Duration::milliseconds(42),
            ),
            conversation_id: "c\\1\u{7}".into(),
            user_id: s("+4915112345678"),
            trace_id: s("t-é-😀"),
            flow: FlowInfo {
                project_id: s("p"),
                flow_name: s("Voice\tMain"),
                endpoint_type: s("voiceGateway2"),
                channel: s("voice"),
                environment: s("prod-eu"),
            },
            cxone: CxoneIds {
                business_unit: s("4601234"),
                master_contact_id: s("745512890111"),
                contact_id: s("745512890123"),
            },
            handover: HandoverInfo {
                mechanism: Some(Mechanism::HandoverProvider),
                requested_action: s("Escalate"),
                target_skill: s("Support_Voice_EN"),
                signal_result: s(r#"{"error":"403"}"#),
                extension_error: s("line\nbreak"),
                code_error: s("x"),
                provider_status: s("error"),
                provider_error_reason: s("unsupported"),
                provider_error_message: s("</script>\u{1f}"),
            },
            voice: VoiceInfo {
                event: s("TRANSFER_DIAL_ERROR"),
                call_sid: s("call-1"),
                sip_call_id: s("1@10.0.0.1"),
                call_status: s("failed"),
                sip_status: Some(488),
                sip_reason: s("Not Acceptable Here"),
                refer_status: Some(100),
                dial_sip_status: Some(699),
                dial_call_status: s("no-answer"),
            },
            context_keys: vec!["routingData".into(), "a\"b".into()],
        }
    }

    #[test]
    fn every_field_is_written_as_serde_writes_it() {
        let e = full();
        assert_eq!(ours(&e), serde(&e));
        for m in [
            Mechanism::CxoneSignal,
            Mechanism::HandoverProvider,
            Mechanism::VgTransfer,
        ] {
            let mut e = full();
            e.handover.mechanism = Some(m);
            assert_eq!(ours(&e), serde(&e));
        }
    }

    #[test]
    fn absent_fields_and_empty_sections_are_written_as_serde_writes_them() {
        let e = HandoverEvent {
            event_id: "e".into(),
            occurred_at: None,
            received_at: None,
            conversation_id: "c".into(),
            user_id: None,
            trace_id: None,
            flow: FlowInfo::default(),
            cxone: CxoneIds::default(),
            handover: HandoverInfo::default(),
            voice: VoiceInfo::default(),
            context_keys: Vec::new(),
        };
        assert_eq!(ours(&e), serde(&e));
        assert_eq!(
            ours(&e),
            r#"{"eventId":"e","conversationId":"c","flow":{},"cxone":{},"handover":{},"voice":{}}"#
        );
    }

    #[test]
    fn times_of_every_precision_and_range_are_written_as_chrono_writes_them() {
        let base = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut times = vec![
            base,
            base + chrono::Duration::milliseconds(7),
            base + chrono::Duration::microseconds(7),
            base + chrono::Duration::nanoseconds(7),
            base + chrono::Duration::milliseconds(999),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        // A leap second.
        times.push(
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_milli_opt(23, 59, 59, 1_500)
                .unwrap()
                .and_utc(),
        );
        for t in times {
            let mut e = full();
            e.occurred_at = Some(t);
            assert_eq!(ours(&e), serde(&e), "{t:?}");
        }
    }
}
