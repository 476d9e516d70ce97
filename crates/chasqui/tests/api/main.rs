//! Black-box tests over a real socket: each test gets its own server and a fresh database.
#![allow(clippy::unwrap_used)]

mod helpers;

mod auth;
mod channels;
mod edits;
mod errors;
mod health;
mod inbound;
mod inbound_other;
mod links;
mod media;
mod media_s3;
mod observability;
mod qr;
mod readyz_media;
mod sandbox;
mod send;
mod templates;
mod tenant;
mod webhook_endpoints;
