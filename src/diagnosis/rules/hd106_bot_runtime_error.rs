//! HD106 bot-runtime-error: an extension timeout or a Code node error stopped the flow.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, event, finding, signal_error};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::signal::{self, SignalResult, SignalStage};

#[doc = include_str!("hd106_bot_runtime_error.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct BotRuntimeError;

impl Rule for BotRuntimeError {
    const CODE: Code = Code::Hd106;
    const TITLE: &'static str = "The bot flow failed at run time before the handover completed";
    const DOC: &'static str = include_str!("hd106_bot_runtime_error.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        let mut parts = Vec::new();
        let mut fixes = Vec::new();
        // An extension error that is one of the extension's CXone messages (or names an
        // HTTP status) belongs to HD103/HD104/HD105/HD111; anything else (timeout, too many
        // API calls, a message no rule knows) is a runtime error, kept verbatim.
        let ext = e.handover.extension_error.as_deref().filter(|m| {
            !matches!(
                signal::parse_signal_result(m),
                Some(SignalResult::Failed(err))
                    if err.stage != SignalStage::Unknown || err.http_status.is_some()
            )
        });
        if let Some(m) = ext {
            parts.push(format!("an extension failed: \"{}\"", clip(m, 300)));
            let lower = m.to_ascii_lowercase();
            fixes.push(if lower.contains("time") {
                "Cognigy stops an extension node after 20 s (Exit Interaction alone waits 5 s after signalling, plus the TMS transcript post and the token calls): check CXone's latency from Cognigy, keep the transcript small, and do not chain several extension calls in one turn."
            } else if signal::is_generic_failure_output(m) {
                "This is what the CXone extension's Exit Interaction says to the caller when its CXone calls fail; v1.2.1 says it without the reason, which stays in Cognigy's log for the session (and in context.CXoneHandover, which no node after the throw can send): read the log, and see what CXone saw of the call with handover-doctor scan. v1.0.18 sends the reason through its On Failure branch."
            } else {
                "Check the extension node's limits (20 s, 10 API calls per execution) and its configuration; Cognigy's logs for the session show the full error."
            });
        }
        if let Some(m) = e.handover.code_error.as_deref() {
            parts.push(format!("a Code node failed: \"{}\"", clip(m, 300)));
            fixes.push("Fix the Code node named in Cognigy's logs: guard against undefined context/input values and keep it within the 1 s limit.");
        }
        // A failure the signal result reports in words no rule knows, without a status.
        let unknown = match signal_error(ev) {
            Some(err)
                if err.stage == SignalStage::Unknown
                    && err.http_status.is_none()
                    && ext != Some(err.message.as_str()) =>
            {
                Some(err.message)
            }
            _ => None,
        };
        if let Some(m) = &unknown {
            parts.push(format!(
                "the CXone extension reported an error handover-doctor does not recognise: \"{}\"",
                clip(m, 300)
            ));
            fixes.push("Read the message (kept whole in the evidence) and Cognigy's log for the session; if it names a CXone status, the extension version may word it differently: report it so a rule can read it.");
        }
        if parts.is_empty() {
            return None;
        }
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The flow failed before the handover completed: {}.",
                parts.join("; ")
            ),
            fixes.join(" "),
            json!({
                "extensionError": ext.map(|m| clip(m, 2000)),
                "extensionMessage": unknown.as_deref().map(|m| clip(m, 2000)),
                "codeError": e.handover.code_error.as_deref().map(|m| clip(m, 300)),
            }),
        ))
    }
}
