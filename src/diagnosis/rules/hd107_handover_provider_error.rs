//! HD107 handover-provider-error: the native Handover to Agent node reported an error.

use serde_json::json;

use super::rule::Rule;
use super::support::{clip, event, finding};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd107_handover_provider_error.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct HandoverProviderError;

impl Rule for HandoverProviderError {
    const CODE: Code = Code::Hd107;
    const TITLE: &'static str = "Cognigy's handover provider reported an error";
    const DOC: &'static str = include_str!("hd107_handover_provider_error.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let h = &event(ev)?.handover;
        let status_error = h
            .provider_status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("error"));
        let reason = h
            .provider_error_reason
            .as_deref()
            .map(str::to_ascii_lowercase);
        if !status_error && reason.is_none() && h.provider_error_message.is_none() {
            return None;
        }
        let text = h
            .provider_error_message
            .as_deref()
            .map(|m| format!(": \"{}\"", clip(m, 300)))
            .unwrap_or_default();
        let (message, fix) = if reason.as_deref() == Some("unsupported") {
            (
                format!(
                    "The Handover to Agent node's provider reported `unsupported`: this channel cannot hand over with that provider{text}."
                ),
                "Cognigy's NiCE CXone handover providers are for chat/digital only (voice handover through them is not supported): hand voice calls over with the NiCE extension's Exit Interaction node (CXone Signal API), and keep the provider for chat endpoints.",
            )
        } else {
            (
                format!(
                    "The Handover to Agent node's provider failed (status {}, reason {}){text}.",
                    h.provider_status.as_deref().unwrap_or("error"),
                    reason.as_deref().unwrap_or("error"),
                ),
                "Check the handover provider's configuration in Cognigy (Handover Providers: CXone tenant id, business unit, client id/secret of the Non-Integrated provider) and Ops Center's handover errors; a provider field left empty after a snapshot import also fails this way.",
            )
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            message,
            fix,
            json!({
                "providerStatus": h.provider_status,
                "providerErrorReason": reason,
                "providerErrorMessage": h.provider_error_message.as_deref().map(|m| clip(m, 300)),
            }),
        ))
    }
}
