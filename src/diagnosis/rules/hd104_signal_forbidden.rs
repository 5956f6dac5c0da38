//! HD104 signal-forbidden: the Signal API answered 403.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, finding, signal_error, signalled_contact_id};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::SignalStage;

#[doc = include_str!("hd104_signal_forbidden.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SignalForbidden;

impl Rule for SignalForbidden {
    const CODE: Code = Code::Hd104;
    const TITLE: &'static str =
        "CXone refused the handover signal with 403: the API user lacks the permission";
    const DOC: &'static str = include_str!("hd104_signal_forbidden.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let err = signal_error(ev)?;
        // An unknown message counts only when it carries the status.
        if !matches!(err.stage, SignalStage::Signal | SignalStage::Unknown)
            || err.http_status != Some(403)
        {
            return None;
        }
        let contact = err
            .contact_id
            .clone()
            .or_else(|| signalled_contact_id(ev))
            .unwrap_or_else(|| "the contact".to_string());
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The CXone Signal API answered 403 {} when the bot signalled '{}' for contact {contact}: the CXone user whose access key the extension uses may not signal contacts (or the contact is outside that user's data restrictions).",
                err.status_text.as_deref().unwrap_or("Forbidden"),
                err.action.as_deref().unwrap_or("Escalate"),
            ),
            "In CXone Admin, give the role of the API user behind the Exit Interaction node's access key the permission to use the Admin/Contacts API (signal a contact), and remove data restrictions that hide the bot's skills or teams from it.",
            json!({
                "httpStatus": 403,
                "statusText": err.status_text,
                "contactId": contact,
                "error": clip(&err.message, 300),
            }),
        ))
    }
}
