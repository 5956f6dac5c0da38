//! HD101 contact-id-missing: the flow had no real CXone contact id, so no signal was sent.

use serde_json::json;

use super::rule::Rule;
use super::support::{
    clip, event, finding, signal_error, signal_result, signalled_contact_id, uses_signal,
};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::{
    SignalResult, SignalStage, is_contact_id_validation, is_generic_failure_output,
};
use crate::event::PLACEHOLDER_CONTACT_ID;

#[doc = include_str!("hd101_contact_id_missing.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct ContactIdMissing;

impl Rule for ContactIdMissing {
    const CODE: Code = Code::Hd101;
    const TITLE: &'static str = "The bot had no CXone contact id, so it never signalled CXone";
    const DOC: &'static str = include_str!("hd101_contact_id_missing.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        if !uses_signal(ev) || signalled_contact_id(ev).is_some() {
            return None;
        }
        // The extension only asks CXone for a token, the endpoint or the signal once it
        // has both ids (every version), so such an error proves the ids were there: a
        // report without them (from the transformer) lost them on the way, not in the
        // flow. A configuration check about something else proves nothing either way.
        // So does its generic output, which comes from the catch around those calls.
        if e.handover
            .extension_error
            .as_deref()
            .is_some_and(is_generic_failure_output)
        {
            return None;
        }
        if let Some(err) = signal_error(ev) {
            match err.stage {
                SignalStage::Token | SignalStage::Discovery | SignalStage::Signal => return None,
                SignalStage::Validation
                    if !is_contact_id_validation(&err) && e.cxone.contact_id.is_none() =>
                {
                    return None;
                }
                _ => {}
            }
        }
        let named_in_result = match signal_result(ev) {
            Some(SignalResult::Signaled { contact_id, .. }) => contact_id,
            Some(SignalResult::Failed(err)) => err.contact_id,
            None => None,
        };
        let placeholder = e.cxone.contact_id.as_deref() == Some(PLACEHOLDER_CONTACT_ID)
            || named_in_result.as_deref() == Some(PLACEHOLDER_CONTACT_ID);
        let what = if placeholder {
            format!(
                "the flow's CXone contact id is the extension's placeholder {PLACEHOLDER_CONTACT_ID}"
            )
        } else {
            "the event carries no CXone contact id (cxone.contactId is empty)".to_string()
        };
        let outcome = match e.handover.signal_result.as_deref() {
            None => {
                "signalResult is empty, as it is when Exit Interaction silently skips the signal"
            }
            Some(_) => "the extension had no real contact to signal",
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "No handover signal reached CXone: {what}, so the SIP headers X-InContact-ContactId / X-InContact-MasterId never made it into the flow's context; {outcome}."
            ),
            "Capture the CXone ids on the first turn: in the flow's On First Time branch run the extension's Context Init node (or NiCE's Add to Context node `sipBody`), and check that the CXone SIP backchannel script sends X-InContact-ContactId and X-InContact-MasterId.",
            json!({
                "contactId": e.cxone.contact_id,
                "masterContactId": e.cxone.master_contact_id,
                "placeholder": placeholder,
                "signalResult": e.handover.signal_result.as_deref().map(|s| clip(s, 300)),
            }),
        ))
    }
}
