//! One rule per finding code, and the registry that lists them all in one place.
//!
//! A rule is a unit struct implementing [`Rule`]: its code, a one-line title (the verdict
//! title), its documentation, and a pure `check` over the [`Evidence`]. The documentation
//! is a markdown file beside the rule (`hd303_no_agents_logged_in.md`) with the fixed
//! sections *What it means* / *Why it matters* / *How to fix*; it is both the rule's `///`
//! doc (through `#[doc = include_str!(..)]`) and what `handover-doctor explain` prints, so
//! there is exactly one text to keep right.

use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::Finding;

mod rule;
pub mod support;

pub use rule::Rule;

mod hd101_contact_id_missing;
mod hd102_channel_not_voice;
mod hd103_signal_auth_failed;
mod hd104_signal_forbidden;
mod hd105_signal_rejected;
mod hd106_bot_runtime_error;
mod hd107_handover_provider_error;
mod hd108_transfer_failed;
mod hd109_missing_context;
mod hd110_session_timeout;
mod hd111_exit_node_misconfigured;
mod hd112_payload_template_error;
mod hd201_contact_not_found;
mod hd202_wrong_contact_signalled;
mod hd203_caller_hung_up;
mod hd204_not_routed_after_signal;
mod hd205_abandoned_in_queue;
mod hd206_agent_refused;
mod hd207_transferred_elsewhere;
mod hd301_skill_not_found;
mod hd302_skill_inactive;
mod hd303_no_agents_logged_in;
mod hd304_no_agents_available;
mod hd305_outside_hours;
mod hd306_skill_wrong_media;
mod hd401_handover_succeeded;
mod hd402_data_pending;
mod hd501_cxone_auth_failed;
mod hd502_cxone_forbidden;
mod hd503_cxone_unavailable;

pub use hd101_contact_id_missing::ContactIdMissing;
pub use hd102_channel_not_voice::ChannelNotVoice;
pub use hd103_signal_auth_failed::SignalAuthFailed;
pub use hd104_signal_forbidden::SignalForbidden;
pub use hd105_signal_rejected::SignalRejected;
pub use hd106_bot_runtime_error::BotRuntimeError;
pub use hd107_handover_provider_error::HandoverProviderError;
pub use hd108_transfer_failed::TransferFailed;
pub use hd109_missing_context::MissingContext;
pub use hd110_session_timeout::SessionTimeout;
pub use hd111_exit_node_misconfigured::ExitNodeMisconfigured;
pub use hd112_payload_template_error::PayloadTemplateError;
pub use hd201_contact_not_found::ContactNotFound;
pub use hd202_wrong_contact_signalled::WrongContactSignalled;
pub use hd203_caller_hung_up::CallerHungUp;
pub use hd204_not_routed_after_signal::NotRoutedAfterSignal;
pub use hd205_abandoned_in_queue::AbandonedInQueue;
pub use hd206_agent_refused::AgentRefused;
pub use hd207_transferred_elsewhere::TransferredElsewhere;
pub use hd301_skill_not_found::SkillNotFound;
pub use hd302_skill_inactive::SkillInactive;
pub use hd303_no_agents_logged_in::NoAgentsLoggedIn;
pub use hd304_no_agents_available::NoAgentsAvailable;
pub use hd305_outside_hours::OutsideHours;
pub use hd306_skill_wrong_media::SkillWrongMedia;
pub use hd401_handover_succeeded::HandoverSucceeded;
pub use hd402_data_pending::DataPending;
pub use hd501_cxone_auth_failed::CxoneAuthFailed;
pub use hd502_cxone_forbidden::CxoneForbidden;
pub use hd503_cxone_unavailable::CxoneUnavailable;

/// What the engine and `explain` need to know of a rule, without its type.
#[derive(Clone, Copy)]
pub struct RuleEntry {
    /// The code.
    pub code: Code,
    /// The one-line title.
    pub title: &'static str,
    /// The documentation.
    pub doc: &'static str,
    /// Runs the rule.
    pub check: fn(&Evidence) -> Option<Finding>,
}

fn run<R: Rule>(ev: &Evidence) -> Option<Finding> {
    R::default().check(ev)
}

macro_rules! registry {
    ($($rule:ty),* $(,)?) => {
        /// Every rule, in the table order of CONTRACT.md section 7.
        pub static RULES: &[RuleEntry] = &[$(
            RuleEntry {
                code: <$rule as Rule>::CODE,
                title: <$rule as Rule>::TITLE,
                doc: <$rule as Rule>::DOC,
                check: run::<$rule>,
            },
        )*];
    };
}

registry! {
    ContactIdMissing,
    ChannelNotVoice,
    SignalAuthFailed,
    SignalForbidden,
    SignalRejected,
    BotRuntimeError,
    HandoverProviderError,
    TransferFailed,
    MissingContext,
    SessionTimeout,
    ExitNodeMisconfigured,
    PayloadTemplateError,
    ContactNotFound,
    WrongContactSignalled,
    CallerHungUp,
    NotRoutedAfterSignal,
    AbandonedInQueue,
    AgentRefused,
    TransferredElsewhere,
    SkillNotFound,
    SkillInactive,
    NoAgentsLoggedIn,
    NoAgentsAvailable,
    OutsideHours,
    SkillWrongMedia,
    HandoverSucceeded,
    DataPending,
    CxoneAuthFailed,
    CxoneForbidden,
    CxoneUnavailable,
}

/// The registry entry of a code.
pub fn entry(code: Code) -> &'static RuleEntry {
    RULES
        .iter()
        .find(|r| r.code == code)
        .expect("every code has a rule (checked by a test)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_exactly_one_rule_in_table_order() {
        let codes: Vec<Code> = RULES.iter().map(|r| r.code).collect();
        assert_eq!(codes, Code::ALL.to_vec());
    }

    #[test]
    fn every_rule_is_documented_in_the_fixed_sections_with_a_one_line_title() {
        for r in RULES {
            assert!(!r.title.is_empty() && !r.title.contains('\n'), "{}", r.code);
            assert!(r.title.len() <= 100, "{} title too long", r.code);
            let mut at = 0;
            for section in ["## What it means", "## Why it matters", "## How to fix"] {
                let i = r.doc[at..]
                    .find(section)
                    .unwrap_or_else(|| panic!("{} lacks {section}", r.code));
                at += i + section.len();
            }
        }
    }
}
