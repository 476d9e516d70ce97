//! The Chasqui service: HTTP server, workers and CLI. `main.rs` only calls [`cli::Cli::run`].

pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod group_commit;
pub mod http;
pub mod inbound;
pub mod jobs;
pub mod master_key;
pub mod media;
pub mod ops;
pub mod outbound;
pub mod sandbox;
pub mod telemetry;
