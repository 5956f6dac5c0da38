//! The receiver's fast reader: the common webhook body, read in one pass straight into
//! the canonical form, building no tree and no [`HandoverEvent`](super::HandoverEvent).
//!
//! It reads what a Cognigy flow usually sends — an object of strings (escapes included),
//! whole numbers, booleans and `null`, each field once — and **declines** (returns
//! `None`) everything else: escaped keys, `\u` escapes of surrogates, fractions and
//! exponents, duplicate keys, objects where a field's value belongs, deep nesting, and
//! every body the full parser would refuse. A declined body goes through [`super::HandoverEvent::parse`] as before, so the
//! answers to bad input, and every rule the full parser applies, stay where they are.
//! What it accepts it must write byte for byte as the full parser's canonical form:
//! debug builds check that on every call (so every test is a check), and so do the
//! property tests and the fuzz target.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::canonical::{self, CXONE_FIELDS, FLOW_FIELDS, HANDOVER_FIELDS, View, VoiceView};
use super::{
    Accepted, MAX_ID_LEN, Mechanism, RESERVED_EVENT_ID_PREFIX, derive_event_id, lean, parse_time,
    status,
};

/// Deeper than this is declined (serde_json refuses past 128).
const MAX_DEPTH: u32 = 32;
/// Longer integers are declined: up to here every reader agrees on their text.
const MAX_DIGITS: usize = 18;

/// Reads `body` as a webhook received at `received_at` (already cut to the millisecond),
/// or declines it.
pub(super) fn read(body: &[u8], received_at: DateTime<Utc>) -> Option<Accepted> {
    let text = std::str::from_utf8(body).ok()?;
    let mut r = Reader {
        text,
        bytes: body,
        at: 0,
    };
    let mut fields = Fields::default();
    r.root(&mut fields)?;
    fields.finish(body, received_at)
}

/// A value as the fast reader keeps it.
enum Value<'a> {
    /// A string, borrowed from the body unless it held escapes.
    Str(Cow<'a, str>),
    /// A whole number of at most [`MAX_DIGITS`] digits, as written.
    Int(&'a str),
    Bool(bool),
    Null,
    /// An object or an array (skipped), and whether it has any member.
    Composite { filled: bool },
}

impl<'a> Value<'a> {
    /// The value of a text field: `Some(None)` when absent (null, blank, `{}`, `[]`),
    /// `None` (decline) for what the full parser refuses or writes differently.
    fn text(self) -> Option<Option<Cow<'a, str>>> {
        match self {
            Value::Str(s) => {
                let t = s.trim();
                Some(if t.is_empty() {
                    None
                } else if t.len() == s.len() {
                    Some(s)
                } else {
                    Some(match s {
                        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                        Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
                    })
                })
            }
            // A number's text is the literal itself (no leading zeros, not `-0`: see `number`).
            Value::Int(n) => Some(Some(Cow::Borrowed(n))),
            Value::Bool(true) => Some(Some(Cow::Borrowed("true"))),
            Value::Bool(false) => Some(Some(Cow::Borrowed("false"))),
            Value::Null | Value::Composite { filled: false } => Some(None),
            // The full parser keeps an object's JSON text in free-text fields, or refuses it.
            Value::Composite { filled: true } => None,
        }
    }

    /// As the full parser's `lean::Scalar`, for the rules shared with it (times, statuses).
    fn scalar(self) -> Option<lean::Scalar<'a>> {
        Some(match self {
            Value::Str(s) => lean::Scalar::Str(s),
            Value::Int(n) => lean::Scalar::Num(n.parse::<i64>().ok()?.into()),
            Value::Bool(b) => lean::Scalar::Bool(b),
            Value::Null | Value::Composite { .. } => return None,
        })
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::Str(s) => s.trim().is_empty(),
            Value::Null | Value::Composite { filled: false } => true,
            Value::Int(_) | Value::Bool(_) | Value::Composite { filled: true } => false,
        }
    }
}

/// The root's fields the event uses, each seen at most once.
#[derive(Default)]
struct Fields<'a> {
    /// Root keys seen (the bits below).
    seen: u64,
    /// Section fields seen, by [`Field::bit`].
    seen_fields: u64,
    conversation_id: Option<Value<'a>>,
    event_id: Option<Value<'a>>,
    occurred_at: Option<Value<'a>>,
    user_id: Option<Value<'a>>,
    trace_id: Option<Value<'a>>,
    flow: [Option<Cow<'a, str>>; 5],
    cxone: [Option<Cow<'a, str>>; 3],
    spawned_contact_id: Option<Cow<'a, str>>,
    mechanism: Option<Mechanism>,
    handover: [Option<Cow<'a, str>>; 8],
    voice_text: [Option<Cow<'a, str>>; 6],
    voice_status: [Option<u16>; 3],
    context_keys: Vec<&'a str>,
}

/// `voice`'s text fields, in the order of `Fields::voice_text`.
const VOICE_TEXT: [(&str, &str); 6] = [
    ("event", "event"),
    ("callSid", "call_sid"),
    ("sipCallId", "sip_call_id"),
    ("callStatus", "call_status"),
    ("sipReason", "sip_reason"),
    ("dialCallStatus", "dial_call_status"),
];
/// `voice`'s statuses, in the order of `Fields::voice_status`.
const VOICE_STATUS: [(&str, &str); 3] = [
    ("sipStatus", "sip_status"),
    ("referStatus", "refer_status"),
    ("dialSipStatus", "dial_sip_status"),
];

/// Bits of [`Fields::seen`] for the root's keys (camelCase and snake_case share one).
const CONVERSATION_ID: u64 = 1 << 0;
const EVENT_ID: u64 = 1 << 1;
const OCCURRED_AT: u64 = 1 << 2;
const RECEIVED_AT: u64 = 1 << 3;
const USER_ID: u64 = 1 << 4;
const TRACE_ID: u64 = 1 << 5;
const FLOW: u64 = 1 << 6;
const CXONE: u64 = 1 << 7;
const HANDOVER: u64 = 1 << 8;
const VOICE: u64 = 1 << 9;
const CONTEXT: u64 = 1 << 10;

/// Marks `bit` seen; `None` if it was already.
fn once(seen: &mut u64, bit: u64) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// The index of `key` among `names` (either spelling).
fn slot(names: &[(&str, &str)], key: &str) -> Option<usize> {
    names.iter().position(|(c, s)| *c == key || *s == key)
}

/// A known field of a section.
#[derive(Clone, Copy)]
enum Field {
    Flow(usize),
    Cxone(usize),
    SpawnedContactId,
    Mechanism,
    Handover(usize),
    VoiceText(usize),
    VoiceStatus(usize),
}

impl Field {
    /// The field `key` names in the section whose root bit is `section`.
    fn of(section: u64, key: &str) -> Option<Field> {
        match section {
            FLOW => slot(&FLOW_FIELDS, key).map(Field::Flow),
            CXONE => match key {
                "spawnedContactId" | "spawned_contact_id" => Some(Field::SpawnedContactId),
                _ => slot(&CXONE_FIELDS, key).map(Field::Cxone),
            },
            HANDOVER => match key {
                "mechanism" => Some(Field::Mechanism),
                _ => slot(&HANDOVER_FIELDS, key).map(Field::Handover),
            },
            VOICE => slot(&VOICE_TEXT, key)
                .map(Field::VoiceText)
                .or_else(|| slot(&VOICE_STATUS, key).map(Field::VoiceStatus)),
            _ => None,
        }
    }

    /// Its bit in [`Fields::seen_fields`].
    fn bit(self) -> u64 {
        let n = match self {
            Field::Flow(i) => i,
            Field::Cxone(i) => 5 + i,
            Field::SpawnedContactId => 8,
            Field::Mechanism => 9,
            Field::Handover(i) => 10 + i,
            Field::VoiceText(i) => 18 + i,
            Field::VoiceStatus(i) => 24 + i,
        };
        1 << n
    }
}

impl<'a> Fields<'a> {
    /// The checks of the full parser's `from_object`, then the canonical form.
    fn finish(self, body: &[u8], received_at: DateTime<Utc>) -> Option<Accepted> {
        let conversation_id = self.conversation_id?.text()??;
        if conversation_id.chars().count() > MAX_ID_LEN {
            return None;
        }
        let occurred_at = match self.occurred_at {
            Some(v) if !v.is_empty() => parse_time(&v.scalar()?, "occurredAt").ok()?,
            _ => None,
        };
        let text = |v: Option<Value<'a>>| v.map_or(Some(None), Value::text);
        let event_id = match text(self.event_id)? {
            Some(id) if id.chars().count() > MAX_ID_LEN => return None,
            Some(id) => id,
            None => Cow::Owned(derive_event_id(&conversation_id, occurred_at, body)),
        };
        if event_id.starts_with(RESERVED_EVENT_ID_PREFIX) {
            return None;
        }
        let user_id = text(self.user_id)?;
        let trace_id = text(self.trace_id)?;
        let mut keys = self.context_keys;
        keys.sort_unstable();
        let mut cxone = self.cxone;
        if cxone[2].is_none() {
            cxone[2] = self.spawned_contact_id;
        }
        let voice = &self.voice_text;
        let view = View {
            event_id: &event_id,
            occurred_at,
            received_at: Some(received_at),
            conversation_id: &conversation_id,
            user_id: user_id.as_deref(),
            trace_id: trace_id.as_deref(),
            flow: self.flow.each_ref().map(Option::as_deref),
            cxone: cxone.each_ref().map(Option::as_deref),
            mechanism: self.mechanism,
            handover: self.handover.each_ref().map(Option::as_deref),
            voice: VoiceView {
                event: voice[0].as_deref(),
                call_sid: voice[1].as_deref(),
                sip_call_id: voice[2].as_deref(),
                call_status: voice[3].as_deref(),
                sip_status: self.voice_status[0],
                sip_reason: voice[4].as_deref(),
                refer_status: self.voice_status[1],
                dial_sip_status: self.voice_status[2],
                dial_call_status: voice[5].as_deref(),
            },
            context_keys: &keys,
        };
        let mut out = Vec::with_capacity(body.len().min(4096));
        canonical::write(&view, &mut out);
        Some(Accepted {
            event_id: event_id.into_owned(),
            conversation_id: conversation_id.into_owned(),
            canonical: out,
        })
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// After a member: `,` (`true`, another follows) or `close` (`false`).
    fn next(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Some(true)
            }
            b if b == close => {
                self.at += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A string, at its `"`: borrowed from the body unless it holds escapes. Declines raw
    /// control characters (as JSON does), unknown escapes and `\u` escapes of surrogates
    /// (serde_json's readers do not all treat those alike).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        self.at += 1;
        let start = self.at;
        let mut run = self.at;
        let mut owned: Option<String> = None;
        loop {
            let len = self.bytes[self.at..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            self.at += len;
            match self.bytes[self.at] {
                b'"' => {
                    // Both ends are ASCII bytes: character boundaries of the checked text.
                    let tail = &self.text[run..self.at];
                    self.at += 1;
                    return Some(match owned {
                        None => Cow::Borrowed(&self.text[start..self.at - 1]),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..self.at]);
                    let c = match *self.bytes.get(self.at + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.text.get(self.at + 2..self.at + 6)?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return None;
                            }
                            let n = u32::from_str_radix(hex, 16).ok()?;
                            self.at += 4;
                            // `None` for a surrogate: declined.
                            char::from_u32(n)?
                        }
                        _ => return None,
                    };
                    s.push(c);
                    self.at += 2;
                    run = self.at;
                }
                _ => return None,
            }
        }
    }

    /// A key: a string without escapes (an escaped key is declined).
    fn key_str(&mut self) -> Option<&'a str> {
        match self.string()? {
            Cow::Borrowed(k) => Some(k),
            Cow::Owned(_) => None,
        }
    }

    /// A key and its colon.
    fn key(&mut self) -> Option<&'a str> {
        let k = self.key_str()?;
        self.eat(b':')?;
        Some(k)
    }

    /// `-`? then `0` or a non-zero digit and more digits; no fraction, no exponent, not
    /// `-0`, at most [`MAX_DIGITS`] digits. What follows is checked by the caller (a `,`,
    /// `}` or `]`), so `01` and `1.5` are declined there or here.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let first = *self.bytes.get(self.at)?;
        let zero_led = first == b'0' && digits > 1;
        let negative_zero = first == b'0' && self.at > start;
        if digits == 0 || digits > MAX_DIGITS || zero_led || negative_zero {
            return None;
        }
        self.at += digits;
        if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.at) {
            return None;
        }
        Some(&self.text[start..self.at])
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// Any value; objects and arrays are skipped (checked, not kept).
    fn value(&mut self, depth: u32) -> Option<Value<'a>> {
        Some(match self.peek()? {
            b'"' => Value::Str(self.string()?),
            b'-' | b'0'..=b'9' => Value::Int(self.number()?),
            b't' => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Value::Null
            }
            b'{' | b'[' => Value::Composite {
                filled: self.skip_composite(depth + 1)?,
            },
            _ => return None,
        })
    }

    /// An object or array at the reader, skipped; whether it had a member.
    fn skip_composite(&mut self, depth: u32) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        let object = self.peek()? == b'{';
        let close = if object { b'}' } else { b']' };
        self.at += 1;
        if self.peek()? == close {
            self.at += 1;
            return Some(false);
        }
        loop {
            if object {
                self.key()?;
            }
            self.value(depth)?;
            if !self.next(close)? {
                return Some(true);
            }
        }
    }

    /// Calls `member` for each key of the object at the reader (its value follows);
    /// `Some(false)` for `{}`.
    fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<bool> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(false);
        }
        loop {
            let key = self.key()?;
            member(self, key)?;
            if !self.next(b'}')? {
                return Some(true);
            }
        }
    }

    fn root(&mut self, f: &mut Fields<'a>) -> Option<()> {
        self.members(|r, key| {
            let bit = match key {
                "conversationId" | "conversation_id" => CONVERSATION_ID,
                "eventId" | "event_id" => EVENT_ID,
                "occurredAt" | "occurred_at" => OCCURRED_AT,
                "receivedAt" | "received_at" => RECEIVED_AT,
                "userId" | "user_id" => USER_ID,
                "traceId" | "trace_id" => TRACE_ID,
                "flow" => FLOW,
                "cxone" => CXONE,
                "handover" => HANDOVER,
                "voice" => VOICE,
                "context" => CONTEXT,
                // The canonical form's key list: a webhook has no business sending it.
                "contextKeys" => return None,
                _ => {
                    r.value(0)?;
                    return Some(());
                }
            };
            once(&mut f.seen, bit)?;
            match bit {
                FLOW | CXONE | HANDOVER | VOICE => r.section(bit, f),
                CONTEXT => r.context(&mut f.context_keys),
                _ => {
                    let v = r.value(0)?;
                    let slot = match bit {
                        CONVERSATION_ID => &mut f.conversation_id,
                        EVENT_ID => &mut f.event_id,
                        OCCURRED_AT => &mut f.occurred_at,
                        USER_ID => &mut f.user_id,
                        TRACE_ID => &mut f.trace_id,
                        // A webhook's own receivedAt is ignored: the receiver stamps it.
                        _ => return Some(()),
                    };
                    *slot = Some(v);
                    Some(())
                }
            }
        })?;
        self.skip_ws();
        (self.at == self.bytes.len()).then_some(())
    }

    /// A section (`flow`, `cxone`, `handover`, `voice`, by its root bit): an object, or
    /// an empty value. Unknown keys are skipped, as the full parser ignores them.
    fn section(&mut self, section: u64, f: &mut Fields<'a>) -> Option<()> {
        if self.peek()? != b'{' {
            return self.value(0)?.is_empty().then_some(());
        }
        self.members(|r, key| match Field::of(section, key) {
            Some(field) => r.field(field, f),
            None => r.value(1).map(drop),
        })
        .map(drop)
    }

    /// A known field's value. A repeat is declined, whatever the values: the full parser
    /// keeps the last one, and prefers a camelCase key to its snake_case twin even when
    /// the camelCase one is empty.
    fn field(&mut self, field: Field, f: &mut Fields<'a>) -> Option<()> {
        once(&mut f.seen_fields, field.bit())?;
        let v = self.value(1)?;
        match field {
            Field::Flow(i) => f.flow[i] = v.text()?,
            Field::Cxone(i) => f.cxone[i] = v.text()?,
            Field::SpawnedContactId => f.spawned_contact_id = v.text()?,
            Field::Handover(i) => f.handover[i] = v.text()?,
            Field::VoiceText(i) => f.voice_text[i] = v.text()?,
            Field::Mechanism => {
                if let Some(m) = v.text()? {
                    f.mechanism = Some(Mechanism::parse(&m)?);
                }
            }
            Field::VoiceStatus(i) => {
                if !v.is_empty() {
                    f.voice_status[i] = Some(status(&v.scalar()?, "").ok()?);
                }
            }
        }
        Some(())
    }

    /// `context`: the keys whose values are filled (an object), or an empty value.
    fn context(&mut self, keys: &mut Vec<&'a str>) -> Option<()> {
        if self.peek()? != b'{' {
            return self.value(0)?.is_empty().then_some(());
        }
        let mut all: Vec<&'a str> = Vec::new();
        self.members(|r, key| {
            if all.contains(&key) {
                return None;
            }
            all.push(key);
            if !r.value(1)?.is_empty() {
                keys.push(key);
            }
            Some(())
        })
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::super::{Accepted, EventError, HandoverEvent};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 12, 14, 27, 1).unwrap()
    }

    fn full(body: &[u8]) -> Result<Accepted, EventError> {
        HandoverEvent::parse_received(body, at()).map(|e| Accepted {
            canonical: e.to_json(),
            event_id: e.event_id,
            conversation_id: e.conversation_id,
        })
    }

    /// Whether the fast reader took `body`, after checking it agrees with the full parser.
    fn taken(body: &str) -> bool {
        let fast = super::read(body.as_bytes(), at());
        if let Some(fast) = &fast {
            assert_eq!(Ok(fast), full(body.as_bytes()).as_ref(), "{body}");
        }
        assert_eq!(
            HandoverEvent::accept_received(body.as_bytes(), at()),
            full(body.as_bytes()),
            "{body}"
        );
        fast.is_some()
    }

    #[test]
    fn every_sample_webhook_takes_the_fast_path() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/webhooks");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read_to_string(&path).unwrap();
                assert!(taken(&body), "{}", path.display());
                n += 1;
            }
        }
        assert!(n >= 30, "{n} fixtures");
    }

    #[test]
    fn the_common_shapes_take_the_fast_path() {
        for body in [
            // Escaped strings (a JSON text in signalResult), kept and skipped.
            r#"{"conversationId":"c","handover":{"signalResult":"{\"status\":403}","mechanism":"Signal"},"context":{"notes":"a \"b\" \u00e9\n"}}"#,
            // Numbers and booleans where strings belong; statuses as strings and numbers.
            r#"{"conversationId":745512890123,"userId":true,"cxone":{"businessUnit":4601234,"contactId":-5},"voice":{"sipStatus":" 488 ","referStatus":202,"dialSipStatus":"+487"}}"#,
            // Times in every accepted form, and absent-ish values.
            r#"{"conversationId":"c","occurredAt":1778596018,"flow":null,"cxone":[],"voice":"","handover":{}}"#,
            r#"{"conversationId":"c","occurredAt":"1778596018412"}"#,
            r#"{"conversationId":"c","occurredAt":"2026-05-12T14:26:58.412+02:00"}"#,
            r#"{"conversationId":"c","occurredAt":"2026-05-12T14:26:58"}"#,
            // Snake case, spawnedContactId, an ignored receivedAt, unknown fields of any shape.
            " \n{\"conversation_id\":\" c \",\"received_at\":{\"x\":[1,2]},\"cxone\":{\"contactId\":\"\",\"spawned_contact_id\":\"42\"},\"x\":[{\"y\":[[]]}],\"flow\":{\"other\":{\"z\":1}}}\t",
            // Context: empty values dropped, keys sorted; empty forms of context.
            r#"{"conversationId":"c","context":{"b":{"x":1},"a":"","c":[0],"d":" ","e":0}}"#,
            r#"{"conversationId":"c","context":[]}"#,
            r#"{"conversationId":"c","context":null}"#,
            r#"{"conversationId":"c","eventId":"rescan:1"}"#,
        ] {
            assert!(taken(body), "{body}");
        }
    }

    #[test]
    fn what_the_fast_path_declines_gets_the_full_parsers_answer() {
        let long = "a".repeat(257);
        for body in [
            // Repeats and twins: the full parser keeps the last, and prefers camelCase.
            r#"{"conversationId":"a","conversationId":"b"}"#,
            r#"{"conversationId":"a","conversation_id":"b"}"#,
            r#"{"conversationId":"c","flow":{"flowName":"","flow_name":"B"}}"#,
            r#"{"conversationId":"c","flow":{"flowName":"A","flowName":""}}"#,
            r#"{"conversationId":"c","voice":{"sipStatus":"","sipStatus":"488"}}"#,
            r#"{"conversationId":"c","handover":{"mechanism":"","mechanism":"bogus"}}"#,
            r#"{"conversationId":"c","context":{"a":1,"a":null}}"#,
            r#"{"conversationId":"c","context":{},"context":{"a":1}}"#,
            r#"{"conversationId":"c","contextKeys":["a"]}"#,
            // Escapes the readers disagree on, escaped keys, control characters.
            r#"{"conversationId":"\ud83d\ude00"}"#,
            r#"{"conversationId":"c","userId":"\ud83d"}"#,
            r#"{"conversation\u0049d":"c"}"#,
            "{\"conversationId\":\"c\u{1}\"}",
            r#"{"conversationId":"c\x"}"#,
            // Numbers JSON or the readers treat apart.
            r#"{"conversationId":-0}"#,
            r#"{"conversationId":1.5}"#,
            r#"{"conversationId":1e3}"#,
            r#"{"conversationId":01}"#,
            r#"{"conversationId":12345678901234567890}"#,
            r#"{"conversationId":"c","x":1e400}"#,
            // Values the full parser refuses or keeps as JSON text.
            r#"{"eventId":"x"}"#,
            r#"{"conversationId":"  "}"#,
            r#"{"conversationId":{"a":1}}"#,
            r#"{"conversationId":"c","eventId":"scan:1"}"#,
            r#"{"conversationId":"scan:1"}"#,
            r#"{"conversationId":"c","handover":{"signalResult":{"error":"403"}}}"#,
            r#"{"conversationId":"c","handover":{"mechanism":"bogus"}}"#,
            r#"{"conversationId":"c","voice":{"sipStatus":"busy"}}"#,
            r#"{"conversationId":"c","voice":{"sipStatus":99}}"#,
            r#"{"conversationId":"c","voice":{"sipStatus":true}}"#,
            r#"{"conversationId":"c","occurredAt":"yesterday"}"#,
            r#"{"conversationId":"c","occurredAt":"253402300826820"}"#,
            r#"{"conversationId":"c","occurredAt":true}"#,
            r#"{"conversationId":"c","flow":"x"}"#,
            r#"{"conversationId":"c","flow":[1]}"#,
            r#"{"conversationId":"c","context":"x"}"#,
            r#"{"conversationId":"c","context":[1]}"#,
            &format!(r#"{{"conversationId":"{long}"}}"#),
            &format!(r#"{{"conversationId":"c","eventId":"{long}"}}"#),
            // Not JSON, or not an object.
            "",
            "[]",
            "\u{feff}{\"conversationId\":\"c\"}",
            r#"{"conversationId":"c",}"#,
            r#"{"conversationId":"c"} x"#,
            r#"{"conversationId":"c""#,
            r#"{"conversationId":"c","x":[1,]}"#,
            r#"{"conversationId":"c","x":tru}"#,
            &format!(r#"{{"conversationId":"c","x":{}{}}}"#, "[".repeat(40), "]".repeat(40)),
        ] {
            assert!(!taken(body), "{body}");
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_declined() {
        let body = b"{\"conversationId\":\"c\xff\"}";
        assert!(super::read(body, at()).is_none());
        assert!(matches!(
            HandoverEvent::accept_received(body, at()),
            Err(EventError::InvalidJson(_))
        ));
    }
}
