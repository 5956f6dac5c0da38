//! HD503 cxone-unavailable: one of handover-doctor's own CXone reads failed.

use super::Rule;
use super::support::{problem_finding, problems};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, ProblemKind};
use crate::diagnosis::model::Finding;

#[doc = include_str!("hd503_cxone_unavailable.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CxoneUnavailable;

impl Rule for CxoneUnavailable {
    const CODE: Code = Code::Hd503;
    const TITLE: &'static str =
        "CXone kept failing through every retry: the diagnosis is incomplete";
    const DOC: &'static str = include_str!("hd503_cxone_unavailable.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        problem_finding(
            Self::CODE,
            &problems(ev, ProblemKind::Unavailable),
            "CXone did not answer usably through every retry",
            "Check the CXone status page and network access from handover-doctor to the CXone API host; the job is retried, and 'handover-doctor diagnose --contact-id' re-runs it by hand.",
        )
    }
}
