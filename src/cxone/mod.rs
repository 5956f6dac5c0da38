//! The NICE CXone client: discovery, the access-key password grant, a shared token,
//! retries, and the reads a diagnosis needs.
//!
//! * `settings` — [`CxoneSettings`], parsed from the `CXONE_*` variables;
//! * `auth` — discovery and the one token per client (single-flight refresh);
//! * `http` — one request with timeout, retries, backoff and metrics;
//! * `client` — [`CxoneClient`] and the authorised GET every read goes through;
//! * `contacts`, `skills` — the reads, tolerant of version drift (`types`, `shape`);
//! * `gather` — [`gather`]: a diagnosis's evidence, every look-up at once.
//!
//! Facts behind all of it: `../shared/domain/cxone.md`. Never Genesys-style paths.

mod auth;
mod cache;
mod client;
mod contacts;
mod error;
mod gather;
mod http;
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
pub use gather::gather;
pub use settings::{CxoneConfigError, CxoneSettings, DEFAULT_API_VERSION, DEFAULT_ISSUER};
