//! Masking of caller phone numbers in everything a notification carries.
//!
//! A caller's number is personal data: a chat channel is no place for it. It keeps the
//! last four digits (enough to match a complaint to a call) and replaces the rest with
//! `•••` ([`GLYPH`], the engine's own mask: not `*`, which Slack and Teams read as bold).
//!
//! Two lines of defence:
//! - the worker masks each Diagnosis before it publishes it to `P.reports`
//!   ([`mask_diagnosis`]), with the caller numbers it knows from the evidence itself
//!   ([`caller_numbers`]: the event's numeric `userId`, the CXone contact's `fromAddress`);
//!   the rules copy free text from the flow (`codeError`, `sipReason`) where the number
//!   may appear again, and no rule puts the number under a key of its own, so the
//!   evidence is the only place it can be learned. `diagnose` and `scan` mask the same way;
//! - every message (Slack, Teams, standard output) goes through a [`Masker`] built from
//!   the diagnoses it covers again, for what a report carries by itself.
//!
//! What counts as a caller number:
//! - any value under an evidence key that names one (`fromAddress`, `ani`, `callerNumber`,
//!   `phone`, ...), and a `userId` whose value is a number (Voice Gateway uses the caller's
//!   number as the Cognigy user id);
//! - those known values wherever they appear again in free text, however they are spaced;
//! - anything in text that looks like a phone number by itself: `+` and 7–15 digits
//!   (spaces, dashes, dots and brackets allowed between them), a `tel:`/`sip:` URI with a
//!   number, or the `(555) 123-4567` form.
//!
//! What is never masked: CXone contact ids (12 digits), conversation and event ids. Digit
//! count alone cannot tell a contact id from a phone number, so bare digit runs are masked
//! only when they are a known caller value, and the diagnosis' own ids are protected.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Diagnosis, Finding};

/// What replaces the masked digits: `•••0123`.
pub const GLYPH: &str = "•••";

/// Keys (lower-case, letters and digits only) whose values are caller numbers.
const CALLER_KEYS: &[&str] = &[
    "fromaddress",
    "from",
    "fromnumber",
    "ani",
    "caller",
    "callernumber",
    "callerid",
    "calleridnumber",
    "callingnumber",
    "callingparty",
    "phone",
    "phonenumber",
    "telephone",
    "mobile",
    "msisdn",
    "customernumber",
    "customerphone",
    "callerphone",
];

/// Keys whose values are caller numbers only when the value is a number.
const NUMERIC_CALLER_KEYS: &[&str] = &["userid", "user"];

/// Keys whose values are ids that must stay intact even when they look like numbers.
const ID_KEY_SUFFIXES: &[&str] = &["contactid", "conversationid", "eventid", "masterid"];

/// The fewest and most digits a phone number has (E.164 allows 15; 7 excludes short codes).
const MIN_PHONE_DIGITS: usize = 7;
const MAX_PHONE_DIGITS: usize = 15;

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True when values under this key are caller numbers.
pub fn is_caller_key(key: &str) -> bool {
    CALLER_KEYS.contains(&normalize_key(key).as_str())
}

fn is_numeric_caller_key(key: &str) -> bool {
    NUMERIC_CALLER_KEYS.contains(&normalize_key(key).as_str())
}

fn is_id_key(key: &str) -> bool {
    let k = normalize_key(key);
    ID_KEY_SUFFIXES.iter().any(|s| k.ends_with(s))
}

/// [`GLYPH`] followed by the last four digits of `s` (or just [`GLYPH`] when it has four
/// or fewer digits, since those four would be the whole number). The engine's helper, so
/// a finding and a message mask alike.
pub fn mask_number(s: &str) -> String {
    crate::diagnosis::rules::support::mask_number(s)
}

/// True when `s` was masked already (by the worker, or by the engine's timeline): masking
/// it again would drop the four digits it kept.
fn is_masked(s: &str) -> bool {
    s.contains(GLYPH)
}

/// The caller numbers the evidence of one diagnosis knows: the event's `userId` when it
/// is a number (Voice Gateway uses the caller's number as the Cognigy user id), and the
/// CXone contact's `fromAddress` (ANI), or its `toAddress` when the contact is outbound.
pub fn caller_numbers(ev: &Evidence) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(u) = ev.event.as_ref().and_then(|e| e.user_id.as_deref())
        && is_number_like(u)
    {
        out.push(u.to_string());
    }
    if let Some(c) = ev.contact() {
        out.extend(c.from_address.iter().cloned());
        if c.is_outbound == Some(true) {
            out.extend(c.to_address.iter().cloned());
        }
    }
    out
}

/// `d` with every caller number masked: those in its own evidence, those the evidence it
/// was made from knows ([`caller_numbers`]), and anything that looks like one. Its ids
/// stay as they are. What the worker publishes, and what `diagnose` prints.
pub fn mask_diagnosis(d: &Diagnosis, ev: &Evidence) -> Diagnosis {
    Masker::for_evidence(d, ev).diagnosis(d)
}

/// True when `s` is, as a whole, a phone-like number: an optional `+`, then digits with
/// the usual separators, 7–15 digits in all.
fn is_number_like(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || " -.()/".contains(c))
    {
        return false;
    }
    let n = s.chars().filter(char::is_ascii_digit).count();
    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&n)
}

const SEPARATORS: &str = " -.()/";

/// From `start` (which must be a digit), reads digits joined by at most two separator
/// characters in a row. Returns the index just after the last digit and the digits.
fn scan_digits(chars: &[char], start: usize) -> (usize, String) {
    let mut digits = String::new();
    let mut i = start;
    let mut end = start;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            digits.push(chars[i]);
            i += 1;
            end = i;
            continue;
        }
        // Separators only count when a digit follows them ("+1 (555) 123-4567").
        let mut j = i;
        while j < chars.len() && j - i < 2 && SEPARATORS.contains(chars[j]) {
            j += 1;
        }
        if j > i && j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            continue;
        }
        break;
    }
    (end, digits)
}

fn starts_with_ignore_case(chars: &[char], at: usize, prefix: &str) -> bool {
    let p: Vec<char> = prefix.chars().collect();
    at + p.len() <= chars.len()
        && chars[at..at + p.len()]
            .iter()
            .zip(&p)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Masks caller numbers in the text and values of one message.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Digits of the caller numbers found under caller keys (7 or more digits each).
    known: Vec<String>,
    /// Ids that must never be masked (exact text).
    protected: HashSet<String>,
}

impl Masker {
    /// A masker that knows the caller values in these diagnoses' evidence and protects
    /// their event, conversation and contact ids.
    pub fn for_diagnoses<'a>(diagnoses: impl IntoIterator<Item = &'a Diagnosis>) -> Masker {
        let diagnoses: Vec<&Diagnosis> = diagnoses.into_iter().collect();
        let mut m = Masker::default();
        // Protect every id first: learning skips protected ids.
        for d in &diagnoses {
            m.protect_ids(d);
        }
        for d in &diagnoses {
            for f in &d.findings {
                m.learn_map(&f.evidence);
            }
        }
        m
    }

    /// A masker for one diagnosis and the evidence it was made from: the ids of both
    /// protected, the caller values of its findings and the evidence's [`caller_numbers`]
    /// learned.
    pub fn for_evidence(d: &Diagnosis, ev: &Evidence) -> Masker {
        let mut m = Masker::default();
        m.protect_ids(d);
        if let Some(e) = &ev.event {
            m.protect(&e.event_id);
            m.protect(&e.conversation_id);
            for id in [&e.cxone.contact_id, &e.cxone.master_contact_id]
                .into_iter()
                .flatten()
            {
                m.protect(id);
            }
        }
        if let Some(c) = &ev.contact_id {
            m.protect(c);
        }
        for f in &d.findings {
            m.learn_map(&f.evidence);
        }
        for n in caller_numbers(ev) {
            m.learn_caller_value(&n);
        }
        m
    }

    fn protect_ids(&mut self, d: &Diagnosis) {
        self.protect(&d.event_id);
        self.protect(&d.conversation_id);
        for id in [&d.contact_id, &d.master_contact_id].into_iter().flatten() {
            self.protect(id);
        }
    }

    /// Never masks this exact id.
    pub fn protect(&mut self, id: &str) {
        let id = id.trim();
        if !id.is_empty() {
            self.protected.insert(id.to_string());
        }
    }

    /// Remembers a caller number so that it is also masked where it appears in text.
    pub fn learn_caller_value(&mut self, value: &str) {
        let chars: Vec<char> = value.chars().collect();
        let mut i = 0;
        let mut found = Vec::new();
        while i < chars.len() {
            if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
                let (end, digits) = scan_digits(&chars, i);
                if digits.len() >= MIN_PHONE_DIGITS {
                    found.push(digits);
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        for digits in found {
            if !self.known.contains(&digits) && !self.protected.contains(&digits) {
                self.known.push(digits);
            }
        }
    }

    fn learn_map(&mut self, map: &Map<String, Value>) {
        for (k, v) in map {
            if is_id_key(k) {
                if let Some(s) = value_as_text(v) {
                    self.protect(&s);
                }
                continue;
            }
            let caller = is_caller_key(k)
                || (is_numeric_caller_key(k)
                    && value_as_text(v).is_some_and(|s| is_number_like(&s)));
            if caller {
                self.learn_value(v);
            } else {
                self.learn_nested(v);
            }
        }
    }

    fn learn_value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.learn_caller_value(s),
            Value::Number(n) => self.learn_caller_value(&n.to_string()),
            Value::Array(a) => a.iter().for_each(|v| self.learn_value(v)),
            Value::Object(o) => o.values().for_each(|v| self.learn_value(v)),
            _ => {}
        }
    }

    fn learn_nested(&mut self, v: &Value) {
        match v {
            Value::Object(o) => self.learn_map(o),
            Value::Array(a) => a.iter().for_each(|v| self.learn_nested(v)),
            _ => {}
        }
    }

    fn is_known(&self, digits: &str) -> bool {
        self.known.iter().any(|k| same_number(k, digits))
    }

    /// Masks every phone number in a piece of free text.
    pub fn text(&self, s: &str) -> String {
        if !s.chars().any(|c| c.is_ascii_digit()) {
            return s.to_string();
        }
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < chars.len() {
            if let Some((end, replacement)) = self.number_at(&chars, i) {
                out.push_str(&replacement);
                i = end;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    /// A phone number starting at `i`: where it ends and what replaces it.
    fn number_at(&self, chars: &[char], i: usize) -> Option<(usize, String)> {
        let c = chars[i];
        let prev = (i > 0).then(|| chars[i - 1]);
        let word_start = prev.is_none_or(|p| !p.is_ascii_alphanumeric());

        // tel:/sip:/sips: URIs keep their scheme so the reader still sees what it was.
        if word_start {
            for scheme in ["tel:", "sips:", "sip:"] {
                if starts_with_ignore_case(chars, i, scheme) {
                    let mut j = i + scheme.len();
                    if j < chars.len() && chars[j] == '+' {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        let (end, digits) = scan_digits(chars, j);
                        if (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
                            || self.is_known(&digits)
                        {
                            let scheme: String = chars[i..i + scheme.len()].iter().collect();
                            return Some((end, format!("{scheme}{}", mask_number(&digits))));
                        }
                    }
                }
            }
        }

        // +E.164, however it is spaced.
        if c == '+'
            && prev.is_none_or(|p| !p.is_ascii_digit())
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            let (end, digits) = scan_digits(chars, i + 1);
            if (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len()) {
                return Some((end, mask_number(&digits)));
            }
            return None;
        }

        // (555) 123-4567
        if c == '(' {
            let (end, digits) = scan_digits(chars, i + 1);
            let span: String = chars[i..end].iter().collect();
            let shaped = span.len() >= 13
                && chars.get(i + 4) == Some(&')')
                && chars[i + 1..i + 4].iter().all(char::is_ascii_digit);
            let digits_ok =
                chars.get(i + 1).is_some_and(char::is_ascii_digit) && digits.len() == 10;
            if shaped && digits_ok && !chars.get(end).is_some_and(char::is_ascii_digit) {
                return Some((end, mask_number(&digits)));
            }
        }

        // A known caller number written without a `+`.
        if c.is_ascii_digit() && prev.is_none_or(|p| !p.is_ascii_digit()) && !self.known.is_empty()
        {
            let (end, digits) = scan_digits(chars, i);
            let span: String = chars[i..end].iter().collect();
            if self.protected.contains(&span) || self.protected.contains(&digits) {
                return None;
            }
            if digits.len() >= MIN_PHONE_DIGITS && self.is_known(&digits) {
                return Some((end, mask_number(&digits)));
            }
        }
        None
    }

    /// Masks a JSON value: caller keys by key, every string by [`Masker::text`].
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(self.map(o)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.value(v)).collect()),
            Value::String(s) => Value::String(self.text(s)),
            other => other.clone(),
        }
    }

    /// Masks an evidence map.
    pub fn map(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| {
                let masked = if is_id_key(k) {
                    v.clone()
                } else if is_caller_key(k)
                    || (is_numeric_caller_key(k)
                        && value_as_text(v).is_some_and(|s| is_number_like(&s)))
                {
                    self.caller_value(v)
                } else {
                    self.value(v)
                };
                (k.clone(), masked)
            })
            .collect()
    }

    fn caller_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) if is_masked(s) => v.clone(),
            Value::String(s) if s.chars().any(|c| c.is_ascii_digit()) => {
                let by_text = self.text(s);
                if by_text != *s {
                    // The text masker recognised the shape (sip:, +E.164): keep the shape.
                    Value::String(by_text)
                } else {
                    Value::String(mask_number(s))
                }
            }
            Value::Number(n) => Value::String(mask_number(&n.to_string())),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.caller_value(v)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.caller_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A copy of the diagnosis with every free-text field and the evidence masked; the
    /// ids (event, conversation, contact) and codes stay as they are.
    pub fn diagnosis(&self, d: &Diagnosis) -> Diagnosis {
        let mut out = d.clone();
        out.verdict.title = self.text(&d.verdict.title);
        out.findings = d.findings.iter().map(|f| self.finding(f)).collect();
        out.cxone.error = d.cxone.error.as_deref().map(|e| self.text(e));
        for t in &mut out.timeline {
            t.event = self.text(&t.event);
            t.detail = self.text(&t.detail);
        }
        out
    }

    fn finding(&self, f: &Finding) -> Finding {
        Finding {
            code: f.code,
            name: f.name.clone(),
            severity: f.severity,
            message: self.text(&f.message),
            fix: self.text(&f.fix),
            evidence: self.map(&f.evidence),
        }
    }
}

/// Significant digits a national and an international spelling must share: fewer would
/// let any number ending in the same few digits pass for the caller's.
const MIN_SHARED_DIGITS: usize = 9;

/// True when the digit runs `a` and `b` spell the same number: equal, or equal once the
/// prefix that dialling adds is set aside (national 0151 1234 5678, international
/// 0049 151 1234 5678 / +49 ...): leading zeros, then at most a three-digit country code.
/// Zeros alone, or zeros before a few of the number's last digits, are not the number.
fn same_number(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= MIN_SHARED_DIGITS && long.ends_with(short) && long.len() - short.len() <= 3
}

fn value_as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn masker_knowing(values: &[&str]) -> Masker {
        let mut m = Masker::default();
        for v in values {
            m.learn_caller_value(v);
        }
        m
    }

    #[test]
    fn a_number_keeps_only_its_last_four_digits() {
        assert_eq!(mask_number("+4915112345678"), "•••5678");
        assert_eq!(mask_number("1234"), "•••");
        assert_eq!(mask_number("+1 (555) 123-4567"), "•••4567");
    }

    #[test]
    fn plus_e164_numbers_in_text_are_masked_however_they_are_spaced() {
        let m = Masker::default();
        assert_eq!(
            m.text("caller +4915112345678 hung up"),
            "caller •••5678 hung up"
        );
        assert_eq!(m.text("from +49 151 1234-5678."), "from •••5678.");
        assert_eq!(m.text("dial +1 (555) 123-4567 now"), "dial •••4567 now");
    }

    #[test]
    fn tel_and_sip_uris_keep_their_scheme_and_host() {
        let m = Masker::default();
        assert_eq!(
            m.text("From: sip:+4930123456789@sbc.example.com"),
            "From: sip:•••6789@sbc.example.com"
        );
        assert_eq!(m.text("<tel:5551234567>"), "<tel:•••4567>");
    }

    #[test]
    fn parenthesised_area_code_form_is_masked() {
        let m = Masker::default();
        assert_eq!(m.text("call (555) 123-4567 back"), "call •••4567 back");
    }

    #[test]
    fn contact_ids_dates_and_short_numbers_are_left_alone() {
        let m = Masker::default();
        let s =
            "contact 745512890123 ended 2026-05-12T14:26:58+02:00 after 42 s, SIP 488, +10 more";
        assert_eq!(m.text(s), s);
    }

    #[test]
    fn a_known_caller_value_is_masked_in_text_even_without_a_plus() {
        let m = masker_knowing(&["4915112345678"]);
        assert_eq!(m.text("ANI 4915112345678 rang"), "ANI •••5678 rang");
        // The national spelling of the same number.
        assert_eq!(m.text("ANI 0151 12345678 rang"), "ANI •••5678 rang");
        // A contact id is not a caller value.
        assert_eq!(m.text("contact 745512890123"), "contact 745512890123");
    }

    #[test]
    fn zeros_and_zeros_before_the_tail_of_a_known_number_are_not_that_number() {
        let m = masker_knowing(&["4915112345678"]);
        for s in [
            "000000005678",
            "000000000",
            "0000000000000",
            "00000012345678",
            "pin 0000000 and ref 000000005678",
        ] {
            assert_eq!(m.text(s), s, "not the caller's number");
        }
        // A longer run that ends in the number is another number, not a spelling of it.
        assert_eq!(m.text("ref 77774915112345678"), "ref 77774915112345678");
        // The number's own spellings still are.
        assert_eq!(m.text("0049 151 12345678"), "•••5678");
        assert_eq!(m.text("0151 12345678"), "•••5678");
        assert_eq!(m.text("+49 151 12345678"), "•••5678");
        // A national spelling learned first still finds the international one.
        let national = masker_knowing(&["015112345678"]);
        assert_eq!(national.text("4915112345678"), "•••5678");
        assert_eq!(national.text("000000005678"), "000000005678");
    }

    #[test]
    fn protected_ids_are_never_masked_even_when_they_equal_a_known_value() {
        let mut m = Masker::default();
        m.protect("745512890123");
        m.learn_caller_value("745512890123");
        assert_eq!(m.text("contact 745512890123"), "contact 745512890123");
    }

    #[test]
    fn caller_keys_are_masked_by_key_at_any_depth() {
        let evidence = json!({
            "fromAddress": "4915112345678",
            "ani": 15551234567u64,
            "caller_number": "sip:+4930123456789@10.1.2.3:5060",
            "nested": { "phone": "+44 20 7946 0958", "skill": "Support_Voice_EN" },
            "contactId": "745512890123",
            "waitSeconds": 42
        });
        let map = evidence.as_object().unwrap();
        let mut m = Masker::default();
        m.learn_map(map);
        let out = Value::Object(m.map(map));
        assert_eq!(out["fromAddress"], "•••5678");
        assert_eq!(out["ani"], "•••4567");
        assert_eq!(out["caller_number"], "sip:•••6789@10.1.2.3:5060");
        assert_eq!(out["nested"]["phone"], "•••0958");
        assert_eq!(out["nested"]["skill"], "Support_Voice_EN");
        assert_eq!(out["contactId"], "745512890123");
        assert_eq!(out["waitSeconds"], 42);
    }

    #[test]
    fn a_numeric_user_id_is_masked_but_a_uuid_user_id_is_not() {
        let evidence = json!({"userId": "4915112345678", "other": {"userId": "c0a8-11ee-uuid"}});
        let map = evidence.as_object().unwrap();
        let mut m = Masker::default();
        m.learn_map(map);
        let out = Value::Object(m.map(map));
        assert_eq!(out["userId"], "•••5678");
        assert_eq!(out["other"]["userId"], "c0a8-11ee-uuid");
        assert_eq!(m.text("user 4915112345678"), "user •••5678");
    }

    #[test]
    fn non_numeric_caller_values_are_kept() {
        let evidence = json!({"ani": "anonymous"});
        let m = Masker::default();
        let out = Value::Object(m.map(evidence.as_object().unwrap()));
        assert_eq!(out["ani"], "anonymous");
    }

    #[test]
    fn a_diagnosis_is_masked_everywhere_but_its_ids() {
        let d: Diagnosis = serde_json::from_value(json!({
            "eventId": "ev-1", "conversationId": "conv-1", "contactId": "745512890123",
            "verdict": {"code": "HD203", "name": "caller-hung-up", "title": "Caller 4915112345678 hung up"},
            "findings": [{
                "code": "HD203", "name": "caller-hung-up", "severity": "error",
                "message": "The caller 4915112345678 hung up 3 s after the request",
                "fix": "Call +4915112345678 back", "evidence": {"fromAddress": "4915112345678"}
            }],
            "cxone": {"checked": true, "error": null},
            "timeline": [{"at": "2026-05-12T14:25:45Z", "source": "cxone", "event": "EndContact",
                          "detail": "ANI 4915112345678"}],
            "diagnosedAt": "2026-05-12T14:30:00Z"
        }))
        .unwrap();
        let m = Masker::for_diagnoses([&d]);
        let out = m.diagnosis(&d);
        let text = serde_json::to_string(&out).unwrap();
        assert!(!text.contains("4915112345678"), "{text}");
        assert!(!text.contains("12345678"), "{text}");
        assert!(text.contains("•••5678"), "{text}");
        assert!(text.contains("745512890123"), "{text}");
        assert_eq!(out.conversation_id, "conv-1");
        assert_eq!(out.verdict.title, "Caller •••5678 hung up");
    }

    fn evidence_with_caller(user_id: &str, from_address: Option<&str>) -> Evidence {
        use crate::cxone::types::Contact;
        use crate::diagnosis::evidence::{CxoneEvidence, CxoneFacts, Lookup};
        let event = crate::event::HandoverEvent::parse(
            json!({
                "eventId": "ev-mask", "conversationId": "conv-mask", "userId": user_id,
                "cxone": {"contactId": "745512890123"},
                "handover": {"mechanism": "vg_transfer",
                             "codeError": "dial 4155550123 failed (+1 415-555-0123)"},
                "voice": {"event": "TRANSFER_DIAL_ERROR", "sipStatus": "488",
                          "sipReason": "Not Acceptable Here for 4155550123"}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let cxone = match from_address {
            None => CxoneEvidence::NotConfigured,
            Some(a) => CxoneEvidence::Checked(Box::new(CxoneFacts {
                contact: Lookup::Found(Contact {
                    from_address: Some(a.into()),
                    ..Contact::default()
                }),
                ..CxoneFacts::default()
            })),
        };
        Evidence {
            contact_id: Some("745512890123".into()),
            event: Some(event),
            cxone,
            required_context_keys: vec![],
            now: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_real_diagnosis_is_masked_with_the_numbers_its_evidence_knows() {
        // No rule puts the caller number under a key of its own: the masker learns it
        // from the event's numeric userId, or from the CXone contact's fromAddress.
        for ev in [
            evidence_with_caller("4155550123", None),
            evidence_with_caller("", Some("4155550123")),
        ] {
            let d = crate::diagnosis::diagnose(&ev);
            let raw = serde_json::to_string(&d).unwrap();
            assert!(raw.contains("4155550123"), "the rules echo it: {raw}");
            assert!(
                Masker::for_diagnoses([&d])
                    .text(&raw)
                    .contains("4155550123"),
                "the diagnosis alone does not tell the number"
            );
            let masked = serde_json::to_string(&mask_diagnosis(&d, &ev)).unwrap();
            assert!(!masked.contains("4155550123"), "{masked}");
            assert!(!masked.contains("555-0123"), "{masked}");
            assert!(masked.contains("•••0123"), "{masked}");
            assert!(masked.contains("745512890123"), "contact id kept: {masked}");
        }
    }

    #[test]
    fn a_uuid_user_id_is_not_a_caller_number() {
        let ev = evidence_with_caller("c0a8-11ee-8c90-0242ac120002", None);
        assert!(caller_numbers(&ev).is_empty());
    }

    #[test]
    fn masking_twice_keeps_the_last_four_digits() {
        let evidence = json!({"fromAddress": "4915112345678", "userId": "4915112345678"});
        let map = evidence.as_object().unwrap();
        let mut m = Masker::default();
        m.learn_map(map);
        let once = m.map(map);
        let mut again = Masker::default();
        again.learn_map(&once);
        let twice = Value::Object(again.map(&once));
        assert_eq!(twice["fromAddress"], "•••5678");
        assert_eq!(twice["userId"], "•••5678");
        assert_eq!(again.text("caller •••5678"), "caller •••5678");
    }

    #[test]
    fn the_engine_and_the_notifier_mask_with_the_same_glyph() {
        assert_eq!(mask_number("+1 (415) 555-0123"), format!("{GLYPH}0123"));
        assert_eq!(
            crate::diagnosis::rules::support::mask_number("4155550123"),
            mask_number("4155550123")
        );
    }
}
