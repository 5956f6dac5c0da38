//! The NICE CXone client: discovery, the access-key password grant, a shared token,
//! retries, and the reads a diagnosis needs.

pub mod types;
