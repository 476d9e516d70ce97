//! Black-box tests over a real socket: each test gets its own server and a fresh database.
#![allow(clippy::unwrap_used)]

mod helpers;

mod auth;
mod errors;
mod health;
mod observability;
mod tenant;
