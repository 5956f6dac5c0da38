//! The lean JSON tree the event parser reads: exactly what [`super::HandoverEvent::parse`]
//! needs and nothing more.
//!
//! Strings are borrowed from the body when they hold no escapes; unknown fields are
//! skipped without being built; `context` is reduced to the keys whose values are not
//! empty while it is read; nested objects below the four sections are kept only as
//! "empty or not" plus their JSON text (free-text fields take objects as text). The
//! semantics are those of a `serde_json::Value` walk — later duplicate keys win, `null`,
//! blank strings, `{}` and `[]` are absent — at a fraction of the allocations.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A value inside a section (or at the root).
#[derive(Debug)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// A string.
    Str(Cow<'a, str>),
    /// A number.
    Num(serde_json::Number),
    /// A boolean.
    Bool(bool),
    /// One of the four sections (`flow`, `cxone`, `handover`, `voice`) at the root.
    Object(Section<'a>),
    /// Any other object or array: whether it is empty, and its JSON text.
    Composite {
        /// `{}` or `[]`.
        empty: bool,
        /// The value re-serialised.
        json: String,
    },
}

impl Scalar<'_> {
    /// `null`, a blank string, `{}` and `[]` mean "absent".
    pub fn is_empty(&self) -> bool {
        match self {
            Scalar::Null => true,
            Scalar::Str(s) => s.trim().is_empty(),
            Scalar::Object(o) => o.0.is_empty(),
            Scalar::Composite { empty, .. } => *empty,
            Scalar::Num(_) | Scalar::Bool(_) => false,
        }
    }
}

/// The fields of an object, in body order.
#[derive(Debug, Default)]
pub struct Section<'a>(Vec<(Cow<'a, str>, Scalar<'a>)>);

impl Section<'static> {
    /// No fields.
    pub const EMPTY: Section<'static> = Section(Vec::new());
}

impl<'a> Section<'a> {
    /// The value of `key`; the last one wins when a key repeats, as in a JSON map.
    pub fn get(&self, key: &str) -> Option<&Scalar<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// What `context` held.
#[derive(Debug, Default)]
pub enum Context {
    /// Missing, `null`, blank, `{}` or `[]`.
    #[default]
    Absent,
    /// The keys whose values are not empty.
    Keys(Vec<String>),
    /// Something other than an object.
    NotObject,
}

/// The root object.
#[derive(Debug, Default)]
pub struct Object<'a> {
    /// Every field but `context` and `contextKeys`.
    pub fields: Section<'a>,
    /// `context`, reduced to its non-empty keys.
    pub context: Context,
    /// `contextKeys` (the canonical form), when it is an array.
    pub context_keys: Option<Vec<String>>,
}

/// The body: an object, or anything else.
#[derive(Debug)]
pub enum Root<'a> {
    /// A JSON object.
    Object(Object<'a>),
    /// Valid JSON that is not an object.
    NotObject,
}

/// A map key, borrowed from the body unless it holds escapes. (serde's own
/// `Deserialize` for `Cow<str>` always allocates: it would cost one `String` per key.)
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

const SECTIONS: [&str; 4] = ["flow", "cxone", "handover", "voice"];
const ROOT_SCALARS: [&str; 12] = [
    "conversationId",
    "conversation_id",
    "eventId",
    "event_id",
    "occurredAt",
    "occurred_at",
    "receivedAt",
    "received_at",
    "userId",
    "user_id",
    "traceId",
    "trace_id",
];

impl<'de> Deserialize<'de> for Root<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RootVisitor)
    }
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Root<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Sized for the keys kept at the root (the sections and the root scalars).
        let mut obj = Object {
            fields: Section(Vec::with_capacity(SECTIONS.len() + ROOT_SCALARS.len())),
            ..Object::default()
        };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "context" {
                obj.context = map.next_value_seed(ContextSeed)?;
            } else if key == "contextKeys" {
                let v: serde_json::Value = map.next_value()?;
                obj.context_keys = match v {
                    serde_json::Value::Array(keys) => Some(
                        keys.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                };
            } else if SECTIONS.contains(&key.as_ref()) {
                let v = map.next_value_seed(ScalarSeed { section: true })?;
                obj.fields.0.push((key, v));
            } else if ROOT_SCALARS.contains(&key.as_ref()) {
                let v = map.next_value_seed(ScalarSeed { section: false })?;
                obj.fields.0.push((key, v));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Root::Object(obj))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Root::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Root::NotObject)
    }
}

/// Reads one value; objects become a [`Section`] when `section` is set (the four
/// sections at the root), else a [`Scalar::Composite`].
struct ScalarSeed {
    section: bool,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Scalar::Null, Scalar::Num))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.section {
            // Sized for the largest section (`handover`, nine fields).
            let mut fields = Vec::with_capacity(10);
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                let v = map.next_value_seed(ScalarSeed { section: false })?;
                fields.push((key, v));
            }
            return Ok(Scalar::Object(Section(fields)));
        }
        // Rare: an object where a scalar belongs. Keep its text (free-text fields use it).
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let empty = v.as_object().is_some_and(|o| o.is_empty());
        Ok(Scalar::Composite {
            empty,
            json: v.to_string(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        let empty = v.as_array().is_some_and(|a| a.is_empty());
        Ok(Scalar::Composite {
            empty,
            json: v.to_string(),
        })
    }
}

/// Reads `context` into the keys whose values are not empty, building none of them.
struct ContextSeed;

impl<'de> DeserializeSeed<'de> for ContextSeed {
    type Value = Context;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContextSeed {
    type Value = Context;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Later duplicates win, as in a JSON map: keep the last emptiness per key.
        let mut keys: Vec<(String, bool)> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let filled = map.next_value_seed(Filled)?;
            match keys.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = filled,
                None => keys.push((key.into_owned(), filled)),
            }
        }
        if keys.is_empty() {
            return Ok(Context::Absent);
        }
        // A `serde_json::Map` iterates in key order; so does the key list.
        let mut filled: Vec<String> = keys
            .into_iter()
            .filter(|(_, f)| *f)
            .map(|(k, _)| k)
            .collect();
        filled.sort();
        Ok(Context::Keys(filled))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut any = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(if any {
            Context::NotObject
        } else {
            Context::Absent
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if v.trim().is_empty() {
            Context::Absent
        } else {
            Context::NotObject
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Context::Absent)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Context::Absent)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Context::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Context::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Context::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Context::NotObject)
    }
}

/// Whether a value is filled (not `null`, a blank string, `{}` or `[]`), skipping it.
struct Filled;

impl<'de> DeserializeSeed<'de> for Filled {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Filled {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut any = false;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(any)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut any = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(any)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(!v.trim().is_empty())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(true)
    }
}
