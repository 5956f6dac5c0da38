//! The diagnosis engine: evidence in, a [`model::Diagnosis`] out.
//!
//! `evidence` is what the rules read; `rules/` holds one file per finding code (its doc
//! comment is the user documentation) and the registry; `codes` is the code registry;
//! `engine` runs the rules and picks the verdict by the fixed precedence of CONTRACT.md
//! section 7; `report` renders a diagnosis for a terminal and explains codes; `signal` and
//! `sip` read what the bot was told.

pub mod codes;
pub mod engine;
pub mod evidence;
pub mod model;
pub mod report;
pub mod rules;
pub mod signal;
pub mod sip;

pub use codes::Code;
pub use engine::{PRECEDENCE, diagnose, needs_recheck};
pub use model::Diagnosis;
pub use report::{explain, explain_list, render_text};
pub use rules::support::{LIVE_ACTIVITY_MAX_AGE, transient_problem};
pub use signal::{SignalError, SignalResult, SignalStage, parse_signal_result};
pub use sip::sip_meaning;
