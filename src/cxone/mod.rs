//! The NICE CXone client: discovery, the access-key password grant, a shared token,
//! retries, and the reads a diagnosis needs.
//!
//! * `settings` — [`CxoneSettings`], parsed from the `CXONE_*` variables;
//! * `auth` — discovery and the one token per client (single-flight refresh);
//! * `limiter` — the one `CXONE_MAX_RPS` limit every request of the process waits for;
//! * `http` — one request with timeout, retries, backoff and metrics;
//! * `client` — [`CxoneClient`] and the authorised GET every read goes through;
//! * `contacts`, `skills` — the reads, tolerant of version drift (`types`, `shape`);
//! * `gather` — [`gather`]: a diagnosis's evidence, every look-up at once.
//!
//! Facts behind all of it: `../shared/domain/cxone.md`. Never Genesys-style paths.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use handover_doctor::cxone::{self, CxoneClient, CxoneSettings};
//! use handover_doctor::metrics::Metrics;
//!
//! let settings = CxoneSettings::from_env_map(|k| std::env::var(k).ok())?;
//! // `None` when the four credentials are not set: diagnoses then say "CXone not checked".
//! let client = CxoneClient::from_settings(settings, Arc::new(Metrics::new()))?;
//! if let Some(c) = &client {
//!     println!("{}", c.check().await?);
//! }
//! let evidence = cxone::gather(client.as_ref(), None, Some("745512890123")).await;
//! # let _ = evidence;
//! # Ok(()) }
//! ```

mod auth;
mod cache;
mod client;
mod contacts;
mod error;
mod gather;
mod http;
mod limiter;
mod paging;
mod settings;
mod shape;
mod skills;
pub mod types;

pub use client::CxoneClient;
pub use contacts::{
    CompletedContactsPages, CompletedContactsQuery, DEFAULT_PAGE_SIZE, MEDIA_TYPE_PHONE_CALL,
};
pub use error::CxoneError;
pub use gather::{contact_to_read, gather, skill_to_check};
pub use settings::{
    CxoneConfigError, CxoneSettings, DEFAULT_API_VERSION, DEFAULT_ISSUER, DEFAULT_MAX_RPS,
};
