//! HD110 session-timeout: the caller was silent until the bot gave up, or the Cognigy
//! session expired.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, event, finding};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd110_session_timeout.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionTimeout;

fn mentions_expiry(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("session expired")
        || t.contains("session timed out")
        || t.contains("session timeout")
}

impl Rule for SessionTimeout {
    const CODE: Code = Code::Hd110;
    const TITLE: &'static str =
        "The bot gave up on a silent caller (or its session expired) before the handover";
    const DOC: &'static str = include_str!("hd110_session_timeout.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        let silent = e
            .voice
            .event
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("USER_INPUT_TIMEOUT"));
        let expiry = [
            &e.handover.extension_error,
            &e.handover.code_error,
            &e.handover.provider_error_message,
            &e.handover.signal_result,
        ]
        .into_iter()
        .flatten()
        .find(|t| mentions_expiry(t));
        let (message, fix) = if silent {
            (
                "The caller said nothing until the bot's no-input retries ran out: Voice Gateway fired USER_INPUT_TIMEOUT and the bot ended the call before any handover.".to_string(),
                "In the flow's Set Session Config (User No Input), escalate instead of hanging up when the retries run out (e.g. an Exit Interaction with Escalate on the no-input path), or raise the timeout and retries; check the speech recognition if callers were in fact talking.",
            )
        } else if let Some(text) = expiry {
            (
                format!(
                    "The Cognigy session expired before the handover: \"{}\".",
                    clip(text, 300)
                ),
                "Raise the endpoint's Session Expiration (default 30 min) for long calls, and keep the CXone ids in context from the first turn so a restarted session can still signal.",
            )
        } else {
            return None;
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            message,
            fix,
            json!({
                "event": e.voice.event,
                "callStatus": e.voice.call_status,
            }),
        ))
    }
}
