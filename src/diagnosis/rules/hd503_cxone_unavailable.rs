//! HD503 cxone-unavailable: one of handover-doctor's own CXone reads failed — through
//! every retry, or with an answer no retry would change.

use super::rule::Rule;
use super::support::{clip, problem_finding, problems};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, ProblemKind};
use crate::diagnosis::model::Finding;

#[doc = include_str!("hd503_cxone_unavailable.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CxoneUnavailable;

impl Rule for CxoneUnavailable {
    const CODE: Code = Code::Hd503;
    const TITLE: &'static str =
        "CXone did not answer handover-doctor's reads usably: the diagnosis is incomplete";
    const DOC: &'static str = include_str!("hd503_cxone_unavailable.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        let rejected = problems(ev, ProblemKind::Rejected);
        let Some(mut f) = problem_finding(
            Self::CODE,
            &problems(ev, ProblemKind::Unavailable),
            "CXone did not answer usably through every retry",
            "Check the CXone status page and network access from handover-doctor to the CXone API host; the job is retried, and 'handover-doctor diagnose --contact-id' re-runs it by hand.",
        ) else {
            return problem_finding(
                Self::CODE,
                &rejected,
                "CXone answered a read with something no retry would change, so it was not retried",
                "Not an outage: check CXONE_API_VERSION (the request or the answer's shape may differ in this API version) and report the read to the handover-doctor maintainers; 'handover-doctor diagnose --contact-id' re-runs the diagnosis by hand.",
            );
        };
        // Both kinds: one finding, the outage first, the refused reads named after it.
        if let Some(first) = rejected.first() {
            let reads: Vec<&str> = rejected.iter().map(|p| p.what.as_str()).collect();
            f.message.push_str(&format!(
                " Also, CXone answered {} with something no retry would change (not retried): {}.",
                reads.join(", "),
                clip(&first.detail, 300)
            ));
            f.evidence
                .insert("rejectedReads".into(), serde_json::json!(reads));
        }
        Some(f)
    }
}
