//! Instance-wide settings that must survive restarts (e.g. whether the demo tenant was made).

use crate::Store;
use crate::db::with_pool;
use crate::error::Result;

impl Store {
    /// A stored instance setting.
    pub async fn instance_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            with_pool!(self, p => sqlx::query_scalar("SELECT value FROM instance_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(p)
            .await?),
        )
    }

    /// Sets `key` only if it is not set yet; returns whether this call set it (a one-time latch
    /// that holds across concurrent starts).
    pub async fn set_instance_setting_once(&self, key: &str, value: &str) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query(
            "INSERT INTO instance_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }
}
