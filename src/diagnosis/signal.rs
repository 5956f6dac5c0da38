//! Reading what the bot was told: `context.CXoneHandover` (or `context.CXoneSendSignal`) in
//! every form a published version of the NiCE CXone extension writes, and the bare error
//! messages it throws.
//!
//! Sources (repository `Cognigy/Extensions`, folder `extensions/cxone/`): v1.0.9 (`2c0c7ae4`)
//! and v1.2.1 (`ab5c5071`) write `Signaled CXone with: 'Escalate' for contactId: N` or
//! `Error signaling CXone with: 'Escalate' for contactId: N; error: <message>` with messages
//! such as `CXone -> getToken: Error getting bearer token: 401: Unauthorized`; v1.0.11
//! (`d4817ae4`) writes the same strings with `CXone API Client: ...` messages; v1.0.18
//! (`00557994`) writes an object, `{success, action, contactId, status}` /
//! `{success: false, action, contactId, error}` / `{success: false, stage: "validation",
//! error}`, which arrives here as its JSON text. The Signal Interaction node writes
//! `Error signaling '["Escalate"]' for contactId: N; error: <message>`. Configuration
//! checks throw `handoverToCXone: Missing Action parameter` (v1.0.9, v1.2.1) or
//! `handoverToCXone: Validation: ...` (v1.0.11).

/// Which step of the extension's work failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalStage {
    /// The node rejected its own configuration before calling CXone (`handoverToCXone:
    /// Missing Action parameter`, `... Validation: ...`, v1.0.18's `stage: "validation"`).
    Validation,
    /// `Error getting token URL` / `Error getting endpoint URL` / `... not found in
    /// discovery response`: CXone discovery.
    Discovery,
    /// `Error getting bearer token` / `Failed to decode JWT token`: the token request.
    Token,
    /// `Error sending handover signal`: the Signal API call itself.
    Signal,
    /// A message we do not recognise.
    Unknown,
}

/// A failed handover as the extension reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalError {
    /// The requested action, e.g. `Escalate`, when the string names it.
    pub action: Option<String>,
    /// The contact id the extension used, when the string names it.
    pub contact_id: Option<String>,
    /// Which step failed.
    pub stage: SignalStage,
    /// The HTTP status of the failed CXone call, when the message carries one.
    pub http_status: Option<u16>,
    /// The HTTP status text after the status, e.g. `Forbidden`.
    pub status_text: Option<String>,
    /// The error message itself (after `error:`), trimmed.
    pub message: String,
}

/// What `context.CXoneHandover` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalResult {
    /// `Signaled CXone with: '<action>' for contactId: <id>`: CXone accepted the signal.
    Signaled {
        /// The action, e.g. `Escalate`.
        action: Option<String>,
        /// The contact id that was signalled.
        contact_id: Option<String>,
    },
    /// `Error signaling CXone ...` or a bare extension error message.
    Failed(SignalError),
}

/// Parses `context.CXoneHandover` (or `context.CXoneSendSignal`); `None` when the text is
/// empty or is not something the extension writes.
pub fn parse_signal_result(text: &str) -> Option<SignalResult> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.starts_with('{') {
        return parse_object_result(t);
    }
    // A string result sent through `JSON.stringify` arrives quoted.
    if t.starts_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(t)
    {
        return parse_signal_result(&inner);
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("signaled cxone") || lower.starts_with("cxone was signaled") {
        return Some(SignalResult::Signaled {
            action: quoted(t).map(|q| first_param(&q)),
            contact_id: contact_id_in(t),
        });
    }
    if lower.starts_with("error signaling") {
        let (head, message) = match find_ci(t, "; error:") {
            Some(i) => (&t[..i], t[i + "; error:".len()..].trim()),
            None => match find_ci(t, "error:") {
                Some(i) if i > 0 => (&t[..i], t[i + "error:".len()..].trim()),
                _ => (t, ""),
            },
        };
        let mut err = parse_error_message(message);
        err.action = quoted(head).map(|q| first_param(&q));
        err.contact_id = contact_id_in(head);
        return Some(SignalResult::Failed(err));
    }
    if is_extension_message(&lower) {
        return Some(SignalResult::Failed(parse_error_message(t)));
    }
    None
}

/// True for a bare message one of the extension's nodes or API helpers throws.
fn is_extension_message(lower: &str) -> bool {
    [
        "cxone api client",
        "cxone ->",
        "handovertocxone",
        "sendsignaltocxone",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// The Signal Interaction node names its parameters as a JSON array (`["Escalate"]`): the
/// first one is the action.
fn first_param(quoted: &str) -> String {
    match serde_json::from_str::<Vec<serde_json::Value>>(quoted) {
        Ok(params) => match params.first() {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => quoted.to_string(),
        },
        Err(_) => quoted.to_string(),
    }
}

/// v1.0.18's object result, carried as its JSON text.
fn parse_object_result(t: &str) -> Option<SignalResult> {
    let serde_json::Value::Object(o) = serde_json::from_str(t).ok()? else {
        return None;
    };
    let text = |key: &str| match o.get(key) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // `$cs` keeps the boolean; a flow that copied it through a template sends "true".
    let success = match o.get("success") {
        Some(serde_json::Value::Bool(b)) => Some(*b),
        Some(serde_json::Value::String(s)) => s.trim().parse::<bool>().ok(),
        _ => None,
    }?;
    let contact_id = text("contactId").filter(|id| id != "undefined" && id != "null");
    if success {
        return Some(SignalResult::Signaled {
            action: text("action"),
            contact_id,
        });
    }
    let message = text("error").unwrap_or_default();
    let mut err = parse_error_message(&message);
    if text("stage").is_some_and(|s| s.eq_ignore_ascii_case("validation")) {
        err.stage = SignalStage::Validation;
    }
    err.action = text("action");
    err.contact_id = contact_id;
    Some(SignalResult::Failed(err))
}

/// Classifies one of the extension's error messages (also what `input.extensionError`
/// carries when the node's error reaches the flow, and what the transformer reports).
pub fn parse_error_message(message: &str) -> SignalError {
    let message = message.trim();
    let lower = message.to_ascii_lowercase();
    let stage = if is_validation(&lower) {
        SignalStage::Validation
    } else if lower.contains("token url")
        || lower.contains("endpoint url")
        || lower.contains("discovery")
        || lower.contains("getcxoneopenidurl")
        || lower.contains("getcxoneconfigurl")
    {
        SignalStage::Discovery
    } else if lower.contains("bearer token")
        || lower.contains("decode jwt")
        || lower.contains("gettoken")
    {
        SignalStage::Token
    } else if lower.contains("signal") {
        SignalStage::Signal
    } else {
        SignalStage::Unknown
    };
    let (http_status, status_text) = http_status_in(message);
    SignalError {
        action: None,
        contact_id: None,
        stage,
        http_status,
        status_text,
        message: message.to_string(),
    }
}

/// The node's own configuration checks, in every version's words: `Validation: ...`
/// (v1.0.11, v1.0.18), `Missing Action parameter`, `CXone API Connection not found`,
/// `Base URL is required ...` (v1.0.9, v1.2.1), `... is required` / `... must be a valid
/// HTTP/HTTPS URL` (the connection checks), and the Signal node's parameter checks.
fn is_validation(lower: &str) -> bool {
    lower.contains("validation")
        || lower.contains("missing action")
        || lower.contains("missing or invalid action")
        || lower.contains("connection not found")
        || lower.contains(" is required")
        || lower.contains("must be a valid http")
        || lower.contains("must be an array")
        || lower.contains("must include at least one parameter")
}

/// True for what every version of the extension says to the caller when its CXone calls
/// fail ("Something is not working. Please retry."), which v1.2.1 reports without the reason.
/// It makes those calls only once it has both contact ids.
pub fn is_generic_failure_output(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .starts_with("something is not working")
}

/// True when the validation message is about the contact ids (v1.0.18's `Contact ID is
/// required` / `Spawned Contact ID is required`).
pub fn is_contact_id_validation(err: &SignalError) -> bool {
    err.stage == SignalStage::Validation && err.message.to_ascii_lowercase().contains("contact id")
}

/// The HTTP status and its text in `...: 403: Forbidden` or `... status code 403`.
fn http_status_in(message: &str) -> (Option<u16>, Option<String>) {
    let parts: Vec<&str> = message.split(':').map(str::trim).collect();
    for (i, part) in parts.iter().enumerate().skip(1) {
        if let Some(status) = as_status(part) {
            let text = parts[i + 1..].join(":").trim().to_string();
            return (Some(status), (!text.is_empty()).then_some(text));
        }
    }
    let lower = message.to_ascii_lowercase();
    if let Some(i) = lower.find("status code") {
        let rest = message[i + "status code".len()..].trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Some(status) = as_status(&digits) {
            return (Some(status), None);
        }
    }
    (None, None)
}

fn as_status(s: &str) -> Option<u16> {
    if s.len() != 3 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| (100..=599).contains(n))
}

/// The first `'...'` in the text.
fn quoted(t: &str) -> Option<String> {
    let start = t.find('\'')? + 1;
    let len = t[start..].find('\'')?;
    let q = t[start..start + len].trim();
    (!q.is_empty()).then(|| q.to_string())
}

/// The digits after `contactId:`.
fn contact_id_in(t: &str) -> Option<String> {
    let i = find_ci(t, "contactid:")? + "contactid:".len();
    let id: String = t[i..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (!id.is_empty() && id != "undefined" && id != "null").then_some(id)
}

/// Case-insensitive `find` for ASCII needles (byte offsets stay valid).
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_string_gives_the_action_and_contact_id() {
        assert_eq!(
            parse_signal_result("Signaled CXone with: 'Escalate' for contactId: 745512890123"),
            Some(SignalResult::Signaled {
                action: Some("Escalate".into()),
                contact_id: Some("745512890123".into())
            })
        );
    }

    #[test]
    fn a_signal_403_is_parsed_with_its_status_text() {
        let Some(SignalResult::Failed(e)) = parse_signal_result(
            "Error signaling CXone with: 'Escalate' for contactId: 745512890123; error: CXone API Client: Error sending handover signal: 403: Forbidden",
        ) else {
            panic!("not a failure")
        };
        assert_eq!(e.stage, SignalStage::Signal);
        assert_eq!(e.http_status, Some(403));
        assert_eq!(e.status_text.as_deref(), Some("Forbidden"));
        assert_eq!(e.contact_id.as_deref(), Some("745512890123"));
        assert_eq!(e.action.as_deref(), Some("Escalate"));
        assert_eq!(
            e.message,
            "CXone API Client: Error sending handover signal: 403: Forbidden"
        );
    }

    #[test]
    fn token_and_discovery_failures_are_told_apart() {
        let token =
            parse_error_message("CXone API Client: Error getting bearer token: 401: Unauthorized");
        assert_eq!(
            (token.stage, token.http_status),
            (SignalStage::Token, Some(401))
        );
        let disco =
            parse_error_message("CXone API Client: Error getting endpoint URL: 404: Not Found");
        assert_eq!(
            (disco.stage, disco.http_status),
            (SignalStage::Discovery, Some(404))
        );
        let jwt = parse_error_message("CXone API Client: Failed to decode JWT token");
        assert_eq!((jwt.stage, jwt.http_status), (SignalStage::Token, None));
        let val = parse_error_message("handoverToCXone: Validation: Environment URL is required");
        assert_eq!(val.stage, SignalStage::Validation);
    }

    #[test]
    fn an_axios_style_status_is_found_too() {
        let e = parse_error_message(
            "Error sending handover signal: Request failed with status code 502",
        );
        assert_eq!(e.http_status, Some(502));
    }

    #[test]
    fn empty_and_foreign_text_is_not_a_signal_result() {
        assert_eq!(parse_signal_result("  "), None);
        assert_eq!(parse_signal_result("[object Object]"), None);
    }

    #[test]
    fn a_bare_extension_error_is_a_failure() {
        let Some(SignalResult::Failed(e)) = parse_signal_result(
            "CXone API Client: Error sending handover signal: 400: Bad Request",
        ) else {
            panic!("not a failure")
        };
        assert_eq!(e.http_status, Some(400));
        assert_eq!(e.contact_id, None);
    }

    #[test]
    fn a_contact_id_that_was_undefined_is_absent() {
        let Some(SignalResult::Failed(e)) = parse_signal_result(
            "Error signaling CXone with: 'Escalate' for contactId: undefined; error: CXone API Client: Error sending handover signal: 404: Not Found",
        ) else {
            panic!("not a failure")
        };
        assert_eq!(e.contact_id, None);
        assert_eq!(e.http_status, Some(404));
    }

    fn failure(text: &str) -> SignalError {
        match parse_signal_result(text) {
            Some(SignalResult::Failed(e)) => e,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn both_message_styles_name_the_same_stage_and_status() {
        for (text, stage, status) in [
            (
                "CXone -> sendSignalHandover: Error sending signal: 403: Forbidden",
                SignalStage::Signal,
                Some(403),
            ),
            (
                "CXone API Client: Error sending handover signal: 403: Forbidden",
                SignalStage::Signal,
                Some(403),
            ),
            (
                "CXone -> getToken: Error getting bearer token: 400: Bad Request",
                SignalStage::Token,
                Some(400),
            ),
            (
                "CXone -> getCxoneOpenIdUrl: Error getting token URL: 404: Not Found",
                SignalStage::Discovery,
                Some(404),
            ),
            (
                "CXone -> getCxoneConfigUrl: API endpoint not found in discovery response",
                SignalStage::Discovery,
                None,
            ),
            (
                "CXone -> getCxoneOpenIdUrl: the response was not valid JSON",
                SignalStage::Discovery,
                None,
            ),
            (
                "handoverToCXone: Missing Action parameter",
                SignalStage::Validation,
                None,
            ),
            (
                "handoverToCXone: CXone API Connection not found",
                SignalStage::Validation,
                None,
            ),
            (
                "handoverToCXone: Validation: Missing or invalid Action parameter",
                SignalStage::Validation,
                None,
            ),
            (
                "CXone -> sendSignal: signalParms must include at least one parameter (p1)",
                SignalStage::Validation,
                None,
            ),
        ] {
            let e = failure(text);
            assert_eq!((e.stage, e.http_status), (stage, status), "{text}");
            assert_eq!(e.message, text);
        }
    }

    #[test]
    fn the_object_result_is_read_in_its_three_forms() {
        assert_eq!(
            parse_signal_result(
                r#"{"success":true,"action":"Escalate","contactId":"745512890123","status":202}"#
            ),
            Some(SignalResult::Signaled {
                action: Some("Escalate".into()),
                contact_id: Some("745512890123".into())
            })
        );
        let e = failure(
            r#"{"success":false,"action":"Escalate","contactId":"745512890123","error":"CXone API Client: Error sending handover signal: 400: Bad Request"}"#,
        );
        assert_eq!((e.stage, e.http_status), (SignalStage::Signal, Some(400)));
        assert_eq!(e.contact_id.as_deref(), Some("745512890123"));
        let v = failure(
            r#"{"success":false,"stage":"validation","error":"Client Secret is required"}"#,
        );
        assert_eq!(v.stage, SignalStage::Validation);
        assert_eq!(v.message, "Client Secret is required");
        assert_eq!(parse_signal_result(r#"{"other":1}"#), None);
    }

    #[test]
    fn the_signal_node_text_names_its_first_parameter_as_the_action() {
        let e = failure(
            r#"Error signaling '["Escalate"]' for contactId: 745512890123; error: CXone -> sendSignal: Error sending signal: 404: Not Found"#,
        );
        assert_eq!(e.action.as_deref(), Some("Escalate"));
        assert_eq!((e.stage, e.http_status), (SignalStage::Signal, Some(404)));
    }

    #[test]
    fn an_unknown_message_is_kept_verbatim() {
        let e =
            failure("Error signaling CXone with: 'Escalate' for contactId: 1; error: fetch failed");
        assert_eq!(e.stage, SignalStage::Unknown);
        assert_eq!(e.message, "fetch failed");
    }
}
