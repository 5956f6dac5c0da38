//! HD502 cxone-forbidden: one of handover-doctor's own CXone reads failed.

use super::rule::Rule;
use super::support::{problem_finding, problems};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, ProblemKind};
use crate::diagnosis::model::Finding;

#[doc = include_str!("hd502_cxone_forbidden.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CxoneForbidden;

impl Rule for CxoneForbidden {
    const CODE: Code = Code::Hd502;
    const TITLE: &'static str =
        "handover-doctor's CXone user may not read the data it needs: the diagnosis is incomplete";
    const DOC: &'static str = include_str!("hd502_cxone_forbidden.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        problem_finding(
            Self::CODE,
            &problems(ev, ProblemKind::Forbidden),
            "CXone refused handover-doctor's read with 403",
            "Give the role of handover-doctor's CXone API user read permission for contacts (reporting), skills, agents and hours of operation, and remove data restrictions that hide the bot's skills.",
        )
    }
}
