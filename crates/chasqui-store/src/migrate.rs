//! Schema migrations, one set per backend, embedded in the binary.

use std::collections::HashSet;

use sqlx::migrate::Migrator;

use crate::Store;
use crate::db::{Pool, with_pool};
use crate::error::Result;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Whether the database schema matches what this binary expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Every embedded migration is applied and nothing unknown is.
    Current,
    /// Migrations this binary knows are not applied yet.
    Pending(Vec<i64>),
    /// The database has migrations this binary does not know (a newer version ran).
    Ahead(Vec<i64>),
    /// A migration started and failed; the schema needs attention.
    Dirty(i64),
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self.pool() {
            Pool::Sqlite(_) => &SQLITE,
            Pool::Postgres(_) => &POSTGRES,
        }
    }

    /// Applies pending migrations; safe to run concurrently from several instances.
    pub async fn migrate(&self) -> Result<()> {
        match self.pool() {
            Pool::Sqlite(p) => SQLITE.run(p).await?,
            Pool::Postgres(p) => POSTGRES.run(p).await?,
        }
        Ok(())
    }

    /// Compares applied migrations with the embedded ones, for `/readyz`.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let table_exists: bool = with_pool!(self, p => {
            let sql = match self.backend() {
                crate::Backend::Sqlite => {
                    "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
                }
                crate::Backend::Postgres => "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
            };
            sqlx::query_scalar(sql).fetch_one(p).await?
        });
        let applied: Vec<(i64, bool)> = if table_exists {
            with_pool!(self, p => sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(p)
                .await?)
        } else {
            Vec::new()
        };
        if let Some((v, _)) = applied.iter().find(|(_, ok)| !ok) {
            return Ok(MigrationStatus::Dirty(*v));
        }
        let known: HashSet<i64> = self.migrator().iter().map(|m| m.version).collect();
        let done: HashSet<i64> = applied.iter().map(|(v, _)| *v).collect();
        let mut ahead: Vec<i64> = done.difference(&known).copied().collect();
        let mut pending: Vec<i64> = known.difference(&done).copied().collect();
        ahead.sort_unstable();
        pending.sort_unstable();
        Ok(if !ahead.is_empty() {
            MigrationStatus::Ahead(ahead)
        } else if !pending.is_empty() {
            MigrationStatus::Pending(pending)
        } else {
            MigrationStatus::Current
        })
    }
}
