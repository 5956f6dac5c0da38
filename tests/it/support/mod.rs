//! Shared test support: spawning the app, talking to the real broker, a TCP relay that
//! can cut the broker away, and a fake CXone.

pub mod app;
pub mod broker;
pub mod cxone_stub;
pub mod relay;
