//! The diagnosis engine: evidence in, a [`model::Diagnosis`] out.
//!
//! `evidence` is what the rules read; `rules/` holds one file per finding code; `codes`
//! is the registry; the verdict is chosen by the fixed precedence of CONTRACT.md section 7.

pub mod codes;
pub mod evidence;
pub mod model;

pub use codes::Code;
pub use model::Diagnosis;
