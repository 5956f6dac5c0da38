//! HD109 missing-context: a key the handover needs is absent or empty in `context`.

use serde_json::json;

use super::rule::Rule;
use super::support::{event, finding};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd109_missing_context.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct MissingContext;

impl Rule for MissingContext {
    const CODE: Code = Code::Hd109;
    const TITLE: &'static str = "The handover context lacks data the routing needs";
    const DOC: &'static str = include_str!("hd109_missing_context.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        // A report with neither context nor contact ids is what an Output Transformer makes
        // of the extension's failure output: it never saw the flow's context, so its absence
        // says nothing.
        if e.context_keys.is_empty()
            && e.cxone.contact_id.is_none()
            && e.cxone.master_contact_id.is_none()
            && e.handover.extension_error.is_some()
        {
            return None;
        }
        let missing: Vec<&str> = ev
            .required_context_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty() && !e.context_keys.iter().any(|have| have == k))
            .collect();
        if missing.is_empty() {
            return None;
        }
        let list = missing.join(", ");
        Some(finding(
            Self::CODE,
            Severity::Warning,
            format!(
                "The event's context lacks {list} (absent or empty); the handover expects {} (REQUIRED_CONTEXT_KEYS), so the agent or the Studio script got the call without it.",
                ev.required_context_keys.join(", ")
            ),
            format!(
                "Fill {list} in the Cognigy context before the handover (Add to Context / Code node, or the Exit Interaction node's optional parameters) and include it in the webhook's context object; if the flow no longer needs it, change REQUIRED_CONTEXT_KEYS."
            ),
            json!({
                "missing": missing,
                "required": ev.required_context_keys,
                "present": e.context_keys,
            }),
        ))
    }
}
