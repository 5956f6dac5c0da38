//! The one error type of the CXone boundary, and how it becomes a report's problem.

use crate::diagnosis::evidence::{CxoneProblem, ProblemKind};

/// Why a CXone call gave no answer we can use.
///
/// `what` is the request in words (`GET /skills/4412877/activity`); details carry HTTP
/// statuses and OAuth error codes, never tokens, secrets or response bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CxoneError {
    /// Discovery failed, or the token endpoint refused our credentials (400/401), or the
    /// API kept answering 401 to a fresh token.
    #[error("{what}: CXone refused our credentials ({detail})")]
    AuthFailed {
        /// The request.
        what: String,
        /// What was refused and how.
        detail: String,
    },
    /// 403: the API user's role lacks the permission, or the data is outside its
    /// restrictions.
    #[error("{what}: CXone answered 403 Forbidden (the API user's role may not read this)")]
    Forbidden {
        /// The request.
        what: String,
    },
    /// 404 on a resource.
    #[error("{what}: CXone answered 404 Not Found")]
    NotFound {
        /// The request.
        what: String,
    },
    /// Another 4xx (400, 405, 409, ...): CXone understood and said no; retrying will not help.
    #[error("{what}: CXone answered {status}{detail}")]
    Rejected {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// `": <error code>"` when the body named one, else empty.
        detail: String,
    },
    /// Timeouts, connect errors, 429 or 5xx through every retry.
    #[error("{what}: CXone is unavailable ({detail})")]
    Unavailable {
        /// The request.
        what: String,
        /// The attempts and the last failure.
        detail: String,
    },
    /// The client could not be built: incomplete credentials, or no usable HTTP client.
    #[error("the CXone client could not be set up: {detail}")]
    Setup {
        /// What is missing.
        detail: String,
    },
    /// A 2xx answer whose body we could not read.
    #[error("{what}: unexpected response from CXone ({detail})")]
    Decode {
        /// The request.
        what: String,
        /// The parse error.
        detail: String,
    },
}

impl CxoneError {
    /// Whether trying again later may succeed: only [`CxoneError::Unavailable`].
    pub fn is_transient(&self) -> bool {
        matches!(self, CxoneError::Unavailable { .. })
    }

    /// The request this error is about.
    pub fn what(&self) -> &str {
        match self {
            CxoneError::AuthFailed { what, .. }
            | CxoneError::Forbidden { what }
            | CxoneError::NotFound { what }
            | CxoneError::Rejected { what, .. }
            | CxoneError::Unavailable { what, .. }
            | CxoneError::Decode { what, .. } => what,
            CxoneError::Setup { .. } => "CXone client setup",
        }
    }

    /// The finding family a report shows for this error: refused credentials are HD501,
    /// 403 is HD502, exhausted retries are HD503 ("CXone kept failing"), and an answer no
    /// retry would change — an unexpected 4xx, an unreadable body — is
    /// [`ProblemKind::Rejected`] (HD503 too, but worded as what it is: no retry was made).
    pub fn problem_kind(&self) -> ProblemKind {
        match self {
            CxoneError::AuthFailed { .. } | CxoneError::Setup { .. } => ProblemKind::AuthFailed,
            CxoneError::Forbidden { .. } => ProblemKind::Forbidden,
            CxoneError::Unavailable { .. } => ProblemKind::Unavailable,
            CxoneError::NotFound { .. }
            | CxoneError::Rejected { .. }
            | CxoneError::Decode { .. } => ProblemKind::Rejected,
        }
    }

    /// This error as a report's [`CxoneProblem`].
    pub fn to_problem(&self) -> CxoneProblem {
        CxoneProblem {
            kind: self.problem_kind(),
            what: self.what().to_string(),
            detail: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_transient() {
        let what = "GET /skills/1".to_string();
        assert!(
            CxoneError::Unavailable {
                what: what.clone(),
                detail: "503".into()
            }
            .is_transient()
        );
        assert!(!CxoneError::Forbidden { what: what.clone() }.is_transient());
        assert!(
            !CxoneError::AuthFailed {
                what: what.clone(),
                detail: "token endpoint answered 401".into()
            }
            .is_transient()
        );
        assert!(!CxoneError::NotFound { what }.is_transient());
    }

    #[test]
    fn answers_a_retry_would_repeat_are_rejected_problems_not_outages() {
        let rejected = CxoneError::Rejected {
            what: "GET /contacts/active?contactId=1".into(),
            status: 400,
            detail: String::new(),
        };
        assert_eq!(rejected.problem_kind(), ProblemKind::Rejected);
        let decode = CxoneError::Decode {
            what: "GET /skills/1".into(),
            detail: "the body is not JSON".into(),
        };
        assert_eq!(decode.problem_kind(), ProblemKind::Rejected);
        assert!(!rejected.is_transient() && !decode.is_transient());
        assert_eq!(
            CxoneError::Unavailable {
                what: "GET /skills/1".into(),
                detail: "gave up".into()
            }
            .problem_kind(),
            ProblemKind::Unavailable
        );
    }

    #[test]
    fn a_forbidden_error_becomes_a_forbidden_problem_naming_the_request() {
        let p = CxoneError::Forbidden {
            what: "GET /contacts/745512890123".into(),
        }
        .to_problem();
        assert_eq!(p.kind, ProblemKind::Forbidden);
        assert_eq!(p.what, "GET /contacts/745512890123");
        assert!(p.detail.contains("403"), "{}", p.detail);
    }
}
