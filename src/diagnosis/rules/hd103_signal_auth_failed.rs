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

/// True when the extension's error belongs to this rule rather than HD104/HD105/HD111:
/// any failure of discovery or of the token request, or a 401 on the signal (CONTRACT.md
/// section 7; a 400 on the signal is a malformed request, HD105).
pub(crate) fn is_auth_failure(err: &SignalError) -> bool {
    match err.stage {
        SignalStage::Token | SignalStage::Discovery => true,
        SignalStage::Validation => false,
        SignalStage::Signal | SignalStage::Unknown => err.http_status == Some(401),
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
                if err.http_status == Some(400) {
                    "CXone answered the password grant with 400 (invalid_grant): the Access Key ID/Secret in the Exit Interaction node's CXone Connection is wrong, revoked, or its user is deactivated; generate a new key under CXone Admin → Employees → the API user → Access Keys."
                } else {
                    "In the Exit Interaction node's CXone Connection, check the Access Key ID/Secret (regenerate the key if it was revoked or its user deactivated) and the Client ID/Secret of the registered back-end app; check that the Environment URL is the tenant's issuer (e.g. https://cxone.niceincontact.com)."
                },
            ),
            SignalStage::Discovery => (
                format!(
                    "the extension could not discover the CXone API endpoint{status}: \"{msg}\""
                ),
                "Check the Environment URL of the Exit Interaction node's CXone Connection (or the node's Environment in v1.0.9/v1.2.1): it must be the issuer of the tenant's CXone environment (global https://cxone.niceincontact.com, or the FedRAMP / AU / EU sovereign issuer), reachable from Cognigy.",
            ),
            _ => (
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
