//! Finding the record inside a CXone body, whatever the API version wrapped it in.
//!
//! Current versions put lists under a named key (`contactStateHistory`, `skills`, ...)
//! next to `_links` and `totalRecords`; v1x versions put the same under `resultSet`; a
//! few endpoints answer with a bare array or a bare object. Old admin lists and
//! `/contact-state-descriptions` spell their keys in PascalCase (`SkillId`, `IsActive`):
//! [`camel_keys`] turns every body into the camelCase the readers know.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::CxoneError;

/// `v` with every object key in camelCase (`SkillId` → `skillId`, `ACWSeconds` →
/// `acwSeconds`), at every depth. A key already in camelCase wins over its PascalCase twin.
pub(crate) fn camel_keys(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            let mut pascal = Vec::new();
            for (k, v) in map {
                match camel_key(&k) {
                    Some(camel) => pascal.push((camel, camel_keys(v))),
                    None => {
                        out.insert(k, camel_keys(v));
                    }
                }
            }
            for (k, v) in pascal {
                out.entry(k).or_insert(v);
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// The camelCase form of a key that starts with a capital; `None` for any other key.
fn camel_key(k: &str) -> Option<String> {
    if !k.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let run = k.chars().take_while(char::is_ascii_uppercase).count();
    // In `ACWSeconds` the last capital of the run starts the next word.
    let lower = if run > 1 && k[run..].starts_with(|c: char| c.is_ascii_lowercase()) {
        run - 1
    } else {
        run
    };
    Some(k[..lower].to_ascii_lowercase() + &k[lower..])
}

/// `key` at the top level, else inside `resultSet`.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key)
        .or_else(|| v.get("resultSet").and_then(|r| r.get(key)))
}

/// The list under the first of `keys` that holds an array (or the body itself, when it
/// is an array). No list at all reads as empty.
pub(crate) fn list(v: &Value, keys: &[&str]) -> Vec<Value> {
    if let Value::Array(items) = v {
        return items.clone();
    }
    keys.iter()
        .find_map(|k| field(v, k).and_then(Value::as_array))
        .or_else(|| v.get("resultSet").and_then(Value::as_array))
        .cloned()
        .unwrap_or_default()
}

/// One record: under the first of `wrappers` that holds an object (or the first element
/// of an array there), else the body itself.
pub(crate) fn record(v: Value, wrappers: &[&str]) -> Option<Value> {
    for key in wrappers {
        match field(&v, key) {
            Some(Value::Object(_)) => return field(&v, key).cloned(),
            Some(Value::Array(items)) => return items.first().cloned(),
            _ => {}
        }
    }
    match v {
        Value::Array(items) => items.into_iter().next(),
        Value::Object(ref o) if o.is_empty() => None,
        Value::Object(_) => match v.get("resultSet") {
            Some(Value::Object(_)) => v.get("resultSet").cloned(),
            Some(Value::Array(items)) => items.first().cloned(),
            _ => Some(v),
        },
        _ => None,
    }
}

/// `_links.next`, when it is a non-empty string.
pub(crate) fn next_link(v: &Value) -> Option<String> {
    field(v, "_links")
        .and_then(|l| l.get("next"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `v` as a `T`, or a decode error naming `what` was read.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, v: Value) -> Result<T, CxoneError> {
    serde_json::from_value(v).map_err(|e| CxoneError::Decode {
        what: what.to_string(),
        detail: e.to_string(),
    })
}

/// 404 means "no such thing": `Ok(None)`.
pub(crate) fn absent_on_404<T>(r: Result<Option<T>, CxoneError>) -> Result<Option<T>, CxoneError> {
    match r {
        Err(CxoneError::NotFound { .. }) => Ok(None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_are_found_at_the_top_in_a_result_set_or_bare() {
        let keys = &["skills"];
        assert_eq!(list(&json!({"skills":[1,2]}), keys).len(), 2);
        assert_eq!(list(&json!({"resultSet":{"skills":[1]}}), keys).len(), 1);
        assert_eq!(list(&json!([1, 2, 3]), keys).len(), 3);
        assert!(list(&json!({"totalRecords":0}), keys).is_empty());
    }

    #[test]
    fn records_are_unwrapped_from_their_wrappers() {
        let w = &["skill"];
        assert_eq!(record(json!({"skill":{"a":1}}), w), Some(json!({"a":1})));
        assert_eq!(record(json!({"skill":[{"a":1}]}), w), Some(json!({"a":1})));
        assert_eq!(
            record(json!({"resultSet":{"a":1}}), w),
            Some(json!({"a":1}))
        );
        assert_eq!(record(json!({"a":1}), w), Some(json!({"a":1})));
        assert_eq!(record(json!([]), w), None);
        assert_eq!(record(json!({}), w), None);
    }

    #[test]
    fn pascal_case_keys_become_camel_case_at_every_depth() {
        let v = camel_keys(json!({
            "skills": [{"SkillId": "7", "IsActive": "True", "ACWSeconds": "3", "ID": 1}],
            "ContactStateId": 2, "contactStateId": 3, "_links": {"next": null}
        }));
        assert_eq!(
            v,
            json!({
                "skills": [{"skillId": "7", "isActive": "True", "acwSeconds": "3", "id": 1}],
                "contactStateId": 3, "_links": {"next": null}
            })
        );
    }

    #[test]
    fn a_null_next_link_means_no_next_page() {
        assert_eq!(next_link(&json!({"_links":{"next":null}})), None);
        assert_eq!(
            next_link(&json!({"_links":{"next":"https://x/y?skip=2"}})),
            Some("https://x/y?skip=2".into())
        );
    }
}
