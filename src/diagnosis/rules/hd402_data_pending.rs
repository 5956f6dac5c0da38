//! HD402 data-pending: CXone had not finished the contact yet.

use serde_json::json;

use super::rule::Rule;
use super::support::{contact_id, finding, still_active};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, Lookup};
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd402_data_pending.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct DataPending;

impl Rule for DataPending {
    const CODE: Code = Code::Hd402;
    const TITLE: &'static str =
        "CXone has not finished reporting this contact yet; the diagnosis will be re-checked";
    const DOC: &'static str = include_str!("hd402_data_pending.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let facts = ev.facts()?;
        let id = contact_id(ev).unwrap_or_else(|| "the contact".into());
        let why = match &facts.contact {
            Lookup::NotFound if still_active(ev) => {
                "it is live (listed among the active contacts) but not in reporting yet".to_string()
            }
            Lookup::Found(c) if still_active(ev) => format!(
                "it is still live{}",
                c.state_name
                    .as_deref()
                    .map(|s| format!(" (state {s})"))
                    .unwrap_or_default()
            ),
            Lookup::Found(c) if c.is_warehoused == Some(false) => {
                "it has ended but is not warehoused yet, so its totals may still change".to_string()
            }
            Lookup::Found(c) if c.total_duration_seconds.is_none() => {
                "CXone reports it without its totals (no total duration yet)".to_string()
            }
            _ => return None,
        };
        Some(finding(
            Self::CODE,
            Severity::Info,
            format!("CXone's data for contact {id} is not final: {why}."),
            "Nothing to do: handover-doctor re-checks the contact once CXone has finished it (reporting can lag by several minutes).",
            json!({
                "contactId": id,
                "stillActive": still_active(ev),
                "isWarehoused": facts.contact.found().and_then(|c| c.is_warehoused),
            }),
        ))
    }
}
