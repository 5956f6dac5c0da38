//! HD501 cxone-auth-failed: one of handover-doctor's own CXone reads failed.

use super::rule::Rule;
use super::support::{problem_finding, problems};
use crate::diagnosis::codes::Code;
use crate::diagnosis::evidence::{Evidence, ProblemKind};
use crate::diagnosis::model::Finding;

#[doc = include_str!("hd501_cxone_auth_failed.md")]
#[derive(Debug, Default, Clone, Copy)]
pub struct CxoneAuthFailed;

impl Rule for CxoneAuthFailed {
    const CODE: Code = Code::Hd501;
    const TITLE: &'static str =
        "handover-doctor's own CXone credentials were refused: the diagnosis is incomplete";
    const DOC: &'static str = include_str!("hd501_cxone_auth_failed.md");

    fn check(&self, ev: &Evidence) -> Option<Finding> {
        problem_finding(
            Self::CODE,
            &problems(ev, ProblemKind::AuthFailed),
            "handover-doctor could not authenticate to CXone",
            "Check CXONE_CLIENT_ID/CXONE_CLIENT_SECRET (the registered back-end app) and CXONE_ACCESS_KEY_ID/CXONE_ACCESS_KEY_SECRET (an active API user's access key), and CXONE_ISSUER; run handover-doctor check-config.",
        )
    }
}
