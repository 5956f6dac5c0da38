//! HD102 channel-not-voice: the Signal path ran on a channel the extension does not treat
//! as voice.

use serde_json::json;

use super::rule::Rule;
use super::support::{event, finding, uses_signal};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::{Finding, Severity};

#[doc = include_str!("hd102_channel_not_voice.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct ChannelNotVoice;

impl Rule for ChannelNotVoice {
    const CODE: Code = Code::Hd102;
    const TITLE: &'static str =
        "Exit Interaction ran on a non-voice channel, so no voice signal was sent";
    const DOC: &'static str = include_str!("hd102_channel_not_voice.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let e = event(ev)?;
        if !uses_signal(ev) {
            return None;
        }
        // The extension looks at `input.channel`; the endpoint type stands in when the
        // flow did not send the channel.
        let (field, channel) = match (&e.flow.channel, &e.flow.endpoint_type) {
            (Some(c), _) => ("flow.channel", c),
            (None, Some(t)) => ("flow.endpointType", t),
            (None, None) => return None,
        };
        if channel.to_ascii_lowercase().contains("voice") {
            return None;
        }
        Some(finding(
            Self::CODE,
            Severity::Error,
            format!(
                "The handover went through the CXone Signal path (Exit Interaction) on channel \"{channel}\" ({field}): the extension only signals CXone when the channel name contains \"voice\", so nothing was signalled."
            ),
            "Run this flow's voice handover on the Voice Gateway endpoint (channel voiceGateway2); for chat, hand over with the NiCE CXone handover provider or the Guide Chat payload instead of the voice signal.",
            json!({
                "channel": e.flow.channel,
                "endpointType": e.flow.endpoint_type,
                "mechanism": "cxone_signal",
            }),
        ))
    }
}
