//! HD201 contact-not-found: CXone has no such contact.

use serde_json::json;

use super::rule::Rule;
use super::support::{contact_id, finding, still_active};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, Lookup};
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd201_contact_not_found.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct ContactNotFound;

impl Rule for ContactNotFound {
    const CODE: Code = Code::Hd201;
    const TITLE: &'static str = "CXone has no contact with the id the bot used";
    const DOC: &'static str = include_str!("hd201_contact_not_found.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        if !matches!(facts.contact, Lookup::NotFound) || still_active(ev) {
            return None;
        }
        let id = contact_id(ev)?;
        let age = ev
            .requested_at()
            .map(|at| (ev.now - at).num_seconds().max(0));
        let when = match age {
            Some(s) => format!(
                " {} after the handover was requested",
                super::support::secs(s as f64)
            ),
            None => String::new(),
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "CXone answered 404 for contact {id}{when}, and it is not among the active contacts: the id is not a contact of this business unit, or CXone has not reported it yet."
            ),
            "Check that the flow sends this call's X-InContact-ContactId (not an id from another call, tenant or environment) and that handover-doctor's CXone credentials belong to the same business unit as the bot's; contacts can take minutes to appear in reporting, which the re-checks wait for.",
            json!({
                "contactId": id,
                "secondsSinceRequest": age,
            }),
        ))
    }
}
