//! HD105 signal-rejected: the Signal API answered a 4xx other than 401 (HD103) and 403
//! (HD104), or a 5xx; a 400 there is a malformed request.

use serde_json::json;

use super::hd103_signal_auth_failed::is_auth_failure;
use super::rule::Rule;
use super::support::{clip, finding, signal_error, signalled_contact_id};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::SignalStage;

#[doc = include_str!("hd105_signal_rejected.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SignalRejected;

/// What a Signal API status means for the handover.
pub(crate) fn signal_status_meaning(status: Option<u16>) -> &'static str {
    match status {
        Some(404) => {
            "CXone does not know this contact as a live interaction: the id is wrong (master instead of spawned, or from another call) or the contact had already ended"
        }
        Some(400) => {
            "CXone refused the request as malformed: the contact id in the URL or the signal parameters (p2... as the node's optional parameters) are not what the Signal API accepts"
        }
        Some(409) => {
            "CXone reported a conflict: the contact was changing state (another signal at the same moment)"
        }
        Some(429) => "CXone rate-limited the request",
        Some(s) if s >= 500 => "CXone failed to process the signal (a server-side error)",
        Some(_) => "CXone refused the request",
        None => "the extension's error carries no HTTP status",
    }
}

impl Rule for SignalRejected {
    const CODE: Code = Code::Hd105;
    const TITLE: &'static str = "CXone rejected the handover signal";
    const DOC: &'static str = include_str!("hd105_signal_rejected.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let err = signal_error(ev)?;
        // An unknown message without a status is HD106's: nothing says CXone answered.
        if !(err.stage == SignalStage::Signal
            || (err.stage == SignalStage::Unknown && err.http_status.is_some()))
            || is_auth_failure(&err)
            || err.http_status == Some(403)
        {
            return None;
        }
        let contact = err
            .contact_id
            .clone()
            .or_else(|| signalled_contact_id(ev))
            .unwrap_or_else(|| "the contact".to_string());
        let status = match (err.http_status, &err.status_text) {
            (Some(s), Some(t)) => format!("{s} {t}"),
            (Some(s), None) => s.to_string(),
            _ => "an error".to_string(),
        };
        let fix = match err.http_status {
            Some(400) => {
                "Check the Exit Interaction node's Spawned Contact ID (digits only: this call's X-InContact-ContactId, no spaces or placeholder) and its optional parameters (a JSON array of objects; older versions put them in the query string, where long values break: update the extension)."
            }
            Some(404) => {
                "Check that the flow signals the spawned contact id (X-InContact-ContactId, the extension's Spawned Contact ID) of this call, and that the caller was still connected (see the CXone timeline); if the extension sends parameters in the query string, update it to a version that sends them in the body."
            }
            Some(s) if s == 429 || s >= 500 => {
                "A CXone-side failure: retry the signal once in the flow after a short pause, and check the CXone status page; if it persists, open a NiCE support case with the contact id."
            }
            _ => {
                "Compare the request the extension made with the Signal API's requirements (POST /interactions/{contactId}/signal with p1=Escalate) and update the extension to the current NiCE version."
            }
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The CXone Signal API answered {status} when the bot signalled '{}' for contact {contact}: {}.",
                err.action.as_deref().unwrap_or("Escalate"),
                signal_status_meaning(err.http_status),
            ),
            fix,
            json!({
                "httpStatus": err.http_status,
                "statusText": err.status_text,
                "contactId": contact,
                "error": clip(&err.message, 2000),
            }),
        ))
    }
}
