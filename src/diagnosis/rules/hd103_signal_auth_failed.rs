//! HD103 signal-auth-failed: the bot could not get a CXone token or API endpoint.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, finding, signal_error};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::{SignalError, SignalStage};

#[doc = include_str!("hd103_signal_auth_failed.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SignalAuthFailed;

/// True when the extension's error belongs to this rule rather than HD104/HD105/HD106:
/// getting a token or the API endpoint failed, or the Signal API answered 400 or 401
/// (CONTRACT.md section 7: "400/401 on token or signal").
pub(crate) fn is_auth_failure(err: &SignalError) -> bool {
    match err.stage {
        SignalStage::Token | SignalStage::Discovery => true,
        SignalStage::Validation => !err.message.to_ascii_lowercase().contains("action"),
        SignalStage::Signal | SignalStage::Unknown => matches!(err.http_status, Some(400 | 401)),
    }
}

fn status_part(err: &SignalError) -> String {
    match (err.http_status, &err.status_text) {
        (Some(s), Some(t)) => format!(" (HTTP {s} {t})"),
        (Some(s), None) => format!(" (HTTP {s})"),
        _ => String::new(),
    }
}

impl Rule for SignalAuthFailed {
    const CODE: Code = Code::Hd103;
    const TITLE: &'static str =
        "The bot could not authenticate to CXone, so the handover signal was never sent";
    const DOC: &'static str = include_str!("hd103_signal_auth_failed.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let err = signal_error(ev).filter(is_auth_failure)?;
        let status = status_part(&err);
        let msg = clip(&err.message, 300);
        let (what, fix) = match err.stage {
            SignalStage::Token => (
                format!("the extension's token request to CXone failed{status}: \"{msg}\""),
                "In the Exit Interaction node's CXone Connection, check the Access Key ID/Secret (regenerate the key if it was revoked or its user deactivated) and the Client ID/Secret of the registered back-end app; check that the Environment URL is the tenant's issuer (e.g. https://cxone.niceincontact.com).",
            ),
            SignalStage::Discovery => (
                format!(
                    "the extension could not discover the CXone API endpoint{status}: \"{msg}\""
                ),
                "Check the Environment URL of the Exit Interaction node's CXone Connection: it must be the issuer of the tenant's CXone environment (global https://cxone.niceincontact.com, or the FedRAMP / AU / EU sovereign issuer), reachable from Cognigy.",
            ),
            SignalStage::Validation => (
                format!("the Exit Interaction node's CXone Connection is incomplete: \"{msg}\""),
                "Fill in the Exit Interaction node's CXone Connection (Environment URL, Access Key ID and Secret, Client ID and Secret) and its Business Unit Number.",
            ),
            SignalStage::Signal | SignalStage::Unknown if err.http_status == Some(400) => (
                format!(
                    "the CXone Signal API refused the bot's request as malformed{status}: \"{msg}\"; a 400 means CXone did not accept the request itself — typically the bearer token the bot sent (an expired or mangled plain-text token from the Studio token script, a token of another tenant or environment), or parameters too large for the query string (older extension versions), or a contact id that is no live contact of this business unit"
                ),
                "Check how the bot gets its CXone token: the Exit Interaction node's CXone Connection (Access Key ID/Secret of an active user, Client ID/Secret, the tenant's Environment URL) or the Studio token script that hands it over; update the extension to a version that sends the signal parameters in the body; and check that the flow signals this call's spawned contact id (X-InContact-ContactId) while the caller is still connected (see the CXone timeline).",
            ),
            SignalStage::Signal | SignalStage::Unknown => (
                format!("the CXone Signal API refused the bot's token{status}: \"{msg}\""),
                "The token was rejected as invalid or expired: check that the CXone Connection's access key belongs to an active user of this business unit, and that the token cached in context (cxoneEncryptedToken) is not reused across tenants.",
            ),
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!("No handover signal reached CXone: {what}."),
            fix,
            json!({
                "stage": format!("{:?}", err.stage).to_ascii_lowercase(),
                "httpStatus": err.http_status,
                "statusText": err.status_text,
                "error": msg,
                "contactId": err.contact_id,
            }),
        ))
    }
}
