//! HD108 transfer-failed: a Voice Gateway transfer (refer or dial) failed.

use serde_json::json;

use super::rule::Rule;
use super::support::{event, finding};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};
use crate::diagnosis::sip::sip_meaning;
use crate::event::Mechanism;

#[doc = include_str!("hd108_transfer_failed.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct TransferFailed;

const FAILING_EVENTS: &[&str] = &[
    "TRANSFER_REFER_ERROR",
    "TRANSFER_DIAL_ERROR",
    "NO_ANSWER",
    "USER_BUSY",
    "CALL_FAILED",
];

fn fix_for(status: Option<u16>, refer: bool, after_accept: bool) -> &'static str {
    if after_accept {
        return "The carrier/SBC accepted the REFER (202) and dialled the target, which then failed (the status above, from the NOTIFY): check the target number or SIP URI, its capacity and staffing; the REFER itself works.";
    }
    if refer {
        return "The SIP REFER was refused: check that the carrier/SBC (or CXone's SIP trunk) accepts REFER from Voice Gateway, and the Transfer node's target and Referred-By; if REFER is not supported, use Transfer Type Dial.";
    }
    match status {
        Some(403) => {
            "Set a caller id the carrier accepts on the Transfer node (Caller ID / P-Asserted-Identity)."
        }
        Some(404 | 484 | 604) => {
            "Check the Transfer node's target number or SIP URI and that it is provisioned at the carrier."
        }
        Some(408 | 480) => {
            "Check that the target is reachable and has capacity (an application attached, a free trunk)."
        }
        Some(486 | 600 | 603) => {
            "The target was busy or declined: add an overflow target or retry path, and check the target's staffing."
        }
        Some(487) => {
            "Nobody answered within the Transfer node's timeout (default 60 s): raise the timeout or route to a staffed target."
        }
        Some(488) => {
            "Align codecs between Voice Gateway and the target (SDP offer/answer), e.g. allow PCMU/PCMA on both sides."
        }
        Some(503) => {
            "Voice Gateway's account is inactive or its call limit is reached: check the VG account and its concurrent-call limit."
        }
        _ => {
            "Look up the SIP status in Voice Gateway's logs for the call and check the Transfer node's target and headers."
        }
    }
}

impl Rule for TransferFailed {
    const CODE: Code = Code::Hd108;
    const TITLE: &'static str = "The Voice Gateway transfer failed";
    const DOC: &'static str = include_str!("hd108_transfer_failed.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        let v = &e.voice;
        let name = v.event.as_deref().map(str::to_ascii_uppercase);
        let failing_event = name.as_deref().filter(|n| FAILING_EVENTS.contains(n));
        // A REFER accepted with 202 whose target then failed: jambonz reports the target's
        // final status from the NOTIFY (`final_referred_call_status`), whatever the event.
        let after_accept = v.final_referred_call_status.filter(|s| *s >= 300);
        let refer = name.as_deref() == Some("TRANSFER_REFER_ERROR") && after_accept.is_none();
        // In a REFER error the sipStatus is the original leg's (200 OK); the refer status
        // is the one that failed.
        let status = match name.as_deref() {
            _ if after_accept.is_some() => after_accept,
            Some("TRANSFER_REFER_ERROR") => v.refer_status,
            Some("NO_ANSWER") => v.dial_sip_status.or(Some(487)),
            _ => v
                .dial_sip_status
                .filter(|s| *s >= 300)
                .or(v.sip_status.filter(|s| *s >= 300)),
        };
        let failed_status = |s: &Option<String>| {
            s.as_deref().is_some_and(|s| {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "failed" | "busy" | "no-answer"
                )
            })
        };
        let transfer_failed = e.handover.mechanism == Some(Mechanism::VgTransfer)
            && (status.is_some()
                || v.refer_status.is_some_and(|s| s >= 300)
                || failed_status(&v.call_status)
                || failed_status(&v.dial_call_status));
        if failing_event.is_none() && !transfer_failed && after_accept.is_none() {
            return None;
        }
        let status = status.or(v.refer_status.filter(|s| *s >= 300));
        let event_name = failing_event.or(name.as_deref()).unwrap_or("transfer");
        let detail = match status {
            Some(s) => {
                let reason = v
                    .sip_reason
                    .as_deref()
                    .filter(|_| !refer && Some(s) == v.sip_status)
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                let which = if after_accept.is_some() {
                    "the REFER was accepted (202), but the transfer target then answered "
                } else if refer {
                    "REFER answered "
                } else {
                    ""
                };
                format!(": {which}SIP {s}{reason}: {}", sip_meaning(s))
            }
            None => String::new(),
        };
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!("The Voice Gateway transfer failed ({event_name}){detail}."),
            fix_for(status, refer, after_accept.is_some()),
            json!({
                "event": v.event,
                "sipStatus": status,
                "sipMeaning": status.map(sip_meaning),
                "sipReason": v.sip_reason,
                "referStatus": v.refer_status,
                "finalReferredCallStatus": v.final_referred_call_status,
                "dialSipStatus": v.dial_sip_status,
                "callStatus": v.call_status,
                "dialCallStatus": v.dial_call_status,
            }),
        ))
    }
}
