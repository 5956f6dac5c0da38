//! handover-doctor: finds out why a Cognigy voicebot's handover to a live agent in NICE
//! CXone failed, and tells the team.
//!
//! The pipeline:
//!
//! 1. `receiver` — `POST /webhooks/cognigy/handover`: verify (HMAC, Standard Webhooks or
//!    API key), parse (`event`), publish to the queue, answer `202` after the confirm.
//! 2. `queue` — RabbitMQ (lapin, quorum queues, confirms) or, for trying it out, memory.
//! 3. `worker` — take a job, gather CXone evidence (`cxone`), run the rules
//!    (`diagnosis`), publish the Diagnosis to the reports queue, then ack the job.
//! 4. `notify` — the single active notifier groups, de-duplicates and paces reports
//!    into Slack, Teams or standard output.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod cxone;
pub mod diagnosis;
pub mod event;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod receiver;
pub mod replay;
pub mod roles;
pub mod scan;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod worker;
