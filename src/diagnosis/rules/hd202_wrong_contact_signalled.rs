//! HD202 wrong-contact-signalled: the bot signalled the master contact, or a contact that
//! is not part of this call.

use serde_json::json;

use super::rule::Rule;
use super::support::{event, finding, is_real_id, signal_result, signalled_contact_id};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::SignalResult;

#[doc = include_str!("hd202_wrong_contact_signalled.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct WrongContactSignalled;

impl Rule for WrongContactSignalled {
    const CODE: Code = Code::Hd202;
    const TITLE: &'static str = "The bot signalled the wrong CXone contact";
    const DOC: &'static str = include_str!("hd202_wrong_contact_signalled.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        let signalled = signalled_contact_id(ev)?;
        let event_master = e.cxone.master_contact_id.clone().filter(|m| is_real_id(m));
        let fix = "In the Exit Interaction node, set Spawned Contact ID to the X-InContact-ContactId header (context.data.spawnedContactId) and Main Contact ID to X-InContact-MasterId (context.data.contactId); do not swap them or reuse ids from an earlier call.";

        // Payload alone: the signalled id is the master id the flow itself reported.
        if event_master.as_deref() == Some(signalled.as_str()) {
            return Some(finding(
                Self::CODE,
                Severity::Error,
                format!(
                    "The bot signalled contact {signalled}, which is the master contact (X-InContact-MasterId), not the spawned SIP-backchannel contact whose Studio script waits for the signal."
                ),
                fix,
                json!({ "signalledContactId": signalled, "masterContactId": event_master }),
            ));
        }

        // Payload alone: the extension says it signalled another contact than the event's
        // spawned contact (a stale id in context, or a fixed value in the node).
        let in_result = match signal_result(ev) {
            Some(SignalResult::Signaled { contact_id, .. }) => contact_id,
            Some(SignalResult::Failed(err)) => err.contact_id,
            None => None,
        }
        .filter(|id| is_real_id(id));
        if let Some(other) = in_result.filter(|id| *id != signalled) {
            let what = if event_master.as_deref() == Some(other.as_str()) {
                "the master contact (X-InContact-MasterId)".to_string()
            } else {
                "another contact than this call's".to_string()
            };
            return Some(finding(
                Self::CODE,
                Severity::Error,
                format!(
                    "The extension signalled contact {other}, {what}, while this call's spawned contact is {signalled}: the Exit Interaction node's Spawned Contact ID does not point at this call's X-InContact-ContactId."
                ),
                fix,
                json!({ "signalledContactId": other, "contactId": signalled }),
            ));
        }

        // CXone: the signalled contact is itself a master with children, or belongs to
        // another master than the call's.
        let facts = ev.facts()?;
        let contact = facts.contact.found();
        let cx_master = facts
            .hierarchy
            .found()
            .and_then(|h| h.master_contact_id.clone())
            .or_else(|| contact.and_then(|c| c.master_contact_id.clone()));
        let children = facts
            .hierarchy
            .found()
            .map(|h| {
                h.child_contacts
                    .iter()
                    .filter_map(|c| c.contact_id.clone())
                    .filter(|id| *id != signalled)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if cx_master.as_deref() == Some(signalled.as_str()) && !children.is_empty() {
            return Some(finding(
                Self::CODE,
                Severity::Error,
                format!(
                    "The bot signalled contact {signalled}, which CXone lists as the master of {} ({}): the Studio script that waits for the signal runs on the spawned contact.",
                    if children.len() == 1 {
                        "one child contact"
                    } else {
                        "several child contacts"
                    },
                    children.join(", ")
                ),
                fix,
                json!({ "signalledContactId": signalled, "childContacts": children }),
            ));
        }
        if let (Some(expected), Some(actual)) = (event_master.as_deref(), cx_master.as_deref())
            && expected != actual
            && actual != signalled
        {
            return Some(finding(
                Self::CODE,
                Severity::Error,
                format!(
                    "The bot signalled contact {signalled}, which belongs to master contact {actual}, not to this call's master {expected}: the id is from another call (stale context or a fixed value)."
                ),
                fix,
                json!({
                    "signalledContactId": signalled,
                    "masterContactId": expected,
                    "cxoneMasterContactId": actual,
                }),
            ));
        }
        None
    }
}
