//! Shared test support: spawning the app, talking to the real broker, a TCP relay that
//! can cut the broker away.

pub mod app;
pub mod broker;
pub mod relay;
