//! Integration tests: one binary. Each area has its own module; helpers spawn the app on
//! port 0, a unique `QUEUE_PREFIX` per test against the real RabbitMQ, and wiremock
//! servers for CXone, Slack and Teams.

mod cli;
mod cluster;
mod cognigy;
mod cxone;
mod deploy;
mod diagnose_e2e;
mod docs;
mod layout;
mod message_limits;
mod notify;
mod pipeline;
mod proptests;
mod queue;
mod receiver;
mod rules;
mod scan;
mod support;
mod worker;
