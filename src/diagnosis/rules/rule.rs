//! The trait every rule implements; a file of its own so that a rule file and the
//! registry that lists the rules (`mod.rs`) both depend on it, not on each other.

use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::Evidence;
use crate::diagnosis::model::Finding;

/// A diagnosis rule: one finding code, documented, checked purely over the evidence.
pub trait Rule: Default + Sync {
    /// The finding code this rule raises.
    const CODE: Code;
    /// One line a person reads first (the verdict title).
    const TITLE: &'static str;
    /// The user documentation (markdown, sections What it means / Why it matters / How
    /// to fix), printed by `explain`.
    const DOC: &'static str;

    /// The finding, when the evidence shows it.
    fn check(&self, ev: &Evidence) -> Option<Finding>;
}
