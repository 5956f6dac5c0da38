//! Helpers shared by the integration tests.

pub mod cxone_stub;
