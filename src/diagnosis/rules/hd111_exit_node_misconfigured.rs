//! HD111 exit-node-misconfigured: the Exit Interaction / Signal Interaction node rejected
//! its own configuration before it called CXone.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, finding, signal_error};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::SignalStage;

#[doc = include_str!("hd111_exit_node_misconfigured.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct ExitNodeMisconfigured;

/// What to change for each of the checks the extension's versions make.
fn fix_for(lower: &str) -> &'static str {
    if lower.contains("action") {
        "Open the Exit Interaction node and choose its Exit Action (Escalate to Agent, or End Conversation); a value typed through CognigyScript must resolve to exactly Escalate or End."
    } else if lower.contains("contact id") {
        "The node's Main / Spawned Contact ID resolved to nothing: run the extension's Context Init node on the first turn (it copies X-InContact-MasterId / X-InContact-ContactId into context.data), and keep the fields at {{context.data.contactId}} / {{context.data.spawnedContactId}}."
    } else if lower.contains("base url") {
        "The node's Environment is Other but its Environment Base URL is empty: enter the tenant's issuer (e.g. https://cxone.niceincontact.com) or pick the listed environment."
    } else if lower.contains("signalparams") || lower.contains("signalparms") {
        "The Signal Interaction node needs its Signal Parameters as a JSON array whose first value is p1 (e.g. [\"Escalate\"])."
    } else {
        "Select a CXone Connection on the node and fill in every field of it (Environment URL as https://..., Access Key ID and Secret, Client ID and Secret); a connection that was not imported with a snapshot must be created again."
    }
}

impl Rule for ExitNodeMisconfigured {
    const CODE: Code = Code::Hd111;
    const TITLE: &'static str =
        "The Exit Interaction node rejected its own configuration before calling CXone";
    const DOC: &'static str = include_str!("hd111_exit_node_misconfigured.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let err = signal_error(ev).filter(|e| e.stage == SignalStage::Validation)?;
        let lower = err.message.to_ascii_lowercase();
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "No handover signal reached CXone: the CXone extension's node stopped at its configuration check (\"{}\") before it called CXone.",
                clip(&err.message, 300)
            ),
            fix_for(&lower),
            json!({
                "stage": "validation",
                "error": clip(&err.message, 2000),
                "action": err.action,
            }),
        ))
    }
}
