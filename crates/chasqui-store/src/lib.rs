//! Chasqui's persistence: one repository API over SQLite (the embedded default) and PostgreSQL.
//!
//! Every function that touches tenant data takes a [`TenantId`](chasqui_core::ids::TenantId):
//! there is no query that can cross tenants by accident. Each backend has its own migrations
//! (`migrations/sqlite`, `migrations/postgres`); the SQL of the repository functions is written
//! once (`$1` placeholders, which both engines accept) and runs on whichever pool is open.

mod db;
mod error;
mod migrate;
mod time;

pub mod api_keys;
pub mod audit;
pub mod channels;
pub mod contacts;
pub mod conversations;
pub mod credentials;
pub mod events;
pub mod inbound;
pub mod jobs;
pub mod link_templates;
pub mod media;
pub mod messages;
pub mod outbound;
pub mod receipts;
pub mod settings;
pub mod templates;
pub mod tenants;
pub mod worker;

pub use db::{Backend, ConnectOptions, Store, Tx, redact_url};
pub use error::StoreError;
pub use migrate::MigrationStatus;
pub use time::{from_millis, now_millis};

/// One page of a list, with the cursor that fetches the next (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page, oldest first.
    pub items: Vec<T>,
    /// Opaque cursor for the next page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Splits `limit + 1` fetched rows into a page and the cursor taken from the last kept item.
    pub(crate) fn from_overfetch(
        mut rows: Vec<T>,
        limit: usize,
        cursor_of: impl Fn(&T) -> String,
    ) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}
