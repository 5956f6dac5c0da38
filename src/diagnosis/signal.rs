//! Reading what the bot was told: `context.CXoneHandover` as the NiCE CXone extension's Exit
//! Interaction node writes it, and the bare error messages the extension throws.
//!
//! The extension writes `Signaled CXone with: 'Escalate' for contactId: N` on success and
//! `Error signaling CXone with: 'Escalate' for contactId: N; error: <message>` on failure,
//! where `<message>` is one of its own error strings (`CXone API Client: Error sending
//! handover signal: 403: Forbidden`, `... Error getting bearer token: 401: Unauthorized`,
//! `handoverToCXone: Validation: ...`). Source: `shared/domain/cognigy.md` section 2.3.

/// Which step of the extension's work failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalStage {
    /// `handoverToCXone: Validation: ...`: the node's configuration is incomplete.
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
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("signaled cxone") || lower.starts_with("cxone was signaled") {
        return Some(SignalResult::Signaled {
            action: quoted(t),
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
        err.action = quoted(head);
        err.contact_id = contact_id_in(head);
        return Some(SignalResult::Failed(err));
    }
    if lower.contains("cxone api client") || lower.contains("handovertocxone") {
        return Some(SignalResult::Failed(parse_error_message(t)));
    }
    None
}

/// Classifies one of the extension's error messages (also what `input.extensionError`
/// carries when the node's error reaches the flow).
pub fn parse_error_message(message: &str) -> SignalError {
    let message = message.trim();
    let lower = message.to_ascii_lowercase();
    let stage = if lower.contains("validation") {
        SignalStage::Validation
    } else if lower.contains("token url")
        || lower.contains("endpoint url")
        || lower.contains("discovery")
    {
        SignalStage::Discovery
    } else if lower.contains("bearer token") || lower.contains("decode jwt") {
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
}
