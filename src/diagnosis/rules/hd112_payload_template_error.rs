//! HD112 payload-template-error: a field of the webhook arrived as `[object Object]`.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, event, finding, signal_result};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd112_payload_template_error.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct PayloadTemplateError;

/// The Cognigy value a field of the event is usually filled from, for the `$cs` form.
fn script_for(field: &str) -> &'static str {
    match field {
        "handover.signalResult" => "context.CXoneHandover",
        "handover.extensionError" => "input.extensionError.message",
        "handover.codeError" => "input.codeNodeError.message",
        "handover.providerErrorMessage" => "input.handover.error.message",
        _ => "<the CognigyScript path of the value>",
    }
}

impl Rule for PayloadTemplateError {
    const CODE: Code = Code::Hd112;
    const TITLE: &'static str =
        "The webhook's payload put an object inline: a field arrived as [object Object]";
    const DOC: &'static str = include_str!("hd112_payload_template_error.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        let Some(first) = e.template_errors.first() else {
            return unknown_signal_result(ev);
        };
        let fields = e.template_errors.join(", ");
        let script = script_for(first);
        Some(finding(
            Self::CODE,
            Severity::Warning,
            format!(
                "The webhook's {fields} arrived as the text \"[object Object]\": the HTTP Request node put an object inline with {{{{…}}}}, so its content was lost and the diagnosis reads the field as absent."
            ),
            format!(
                "In the HTTP Request node's JSON payload, write the field {first} as {{\"$cs\": {{\"script\": \"{script}\", \"type\": \"object\"}}}} instead of \"{{{{{script}}}}}\" (integrations/cognigy/http-request-payload.json does so).",
            ),
            json!({ "fields": e.template_errors }),
        ))
    }
}

/// A `signalResult` no version of the extension writes: kept verbatim and named, so a flow
/// that sends something else there (another context key, a message of its own) learns it.
fn unknown_signal_result(ev: &Evidence) -> Option<Finding> {
    let text = event(ev)?.handover.signal_result.as_deref()?;
    if signal_result(ev).is_some() {
        return None;
    }
    Some(finding(
        Code::Hd112,
        Severity::Warning,
        format!(
            "The webhook's handover.signalResult holds \"{}\", which no version of the CXone extension writes, so the diagnosis could not tell whether CXone accepted the signal.",
            clip(text, 300)
        ),
        "Send context.CXoneHandover (or context.CXoneSendSignal) unchanged in handover.signalResult, as {\"$cs\": {\"script\": \"context.CXoneHandover\", \"type\": \"object\"}} (integrations/cognigy/http-request-payload.json does so); put messages of your own in handover.extensionError.",
        json!({ "fields": ["handover.signalResult"], "signalResult": clip(text, 2000) }),
    ))
}
