//! Encrypted credentials (provider tokens, app secrets), one row per tenant and name.
//!
//! Ciphertexts are bound to their tenant and name (the AEAD associated data), so a row copied
//! elsewhere does not decrypt. [`Store::rotate_credentials`] re-encrypts under the keyring's
//! primary key row by row with compare-and-swap, so it runs while the service keeps serving.

use chasqui_core::ids::TenantId;
use chasqui_core::secrets::{Keyring, Secret, SecretsError};

use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Store, now_millis};

/// Why a credential could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Decryption failed.
    #[error("credential `{name}`: {source}")]
    Secrets {
        /// Which credential.
        name: String,
        /// Why.
        #[source]
        source: SecretsError,
    },
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows re-encrypted under the primary key.
    pub rotated: u64,
    /// Rows that could not be decrypted with any key (left untouched).
    pub failed: Vec<String>,
}

impl Tx {
    /// Stores (or replaces) a credential, encrypted under the primary key.
    pub async fn put_credential(
        &mut self,
        keys: &Keyring,
        tenant: TenantId,
        name: &str,
        value: &Secret,
    ) -> Result<()> {
        let envelope = keys.encrypt(tenant, name, value);
        with_tx!(self, c => sqlx::query(
            "INSERT INTO credentials (tenant_id, name, ciphertext, key_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET ciphertext = $3, key_id = $4, updated_at = $5",
        )
        .bind(tenant.to_string())
        .bind(name)
        .bind(envelope)
        .bind(keys.primary().as_str())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        Ok(())
    }
}

impl Store {
    /// Stores (or replaces) a credential on its own.
    pub async fn put_credential(
        &self,
        keys: &Keyring,
        tenant: TenantId,
        name: &str,
        value: &Secret,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.put_credential(keys, tenant, name, value).await?;
        tx.commit().await
    }

    /// Reads and decrypts a credential.
    pub async fn credential(
        &self,
        keys: &Keyring,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<Secret>, CredentialError> {
        let envelope: Option<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT ciphertext FROM credentials WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.to_string())
        .bind(name)
        .fetch_optional(p)
        .await
        .map_err(StoreError::from)?);
        envelope
            .map(|e| keys.decrypt(tenant, name, &e))
            .transpose()
            .map_err(|source| CredentialError::Secrets {
                name: name.to_owned(),
                source,
            })
    }

    /// Deletes a credential.
    pub async fn delete_credential(&self, tenant: TenantId, name: &str) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query("DELETE FROM credentials WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.to_string())
            .bind(name)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// How many credentials each key id protects (to know when an old key can be retired).
    pub async fn credential_key_usage(&self) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, p => sqlx::query_as(
            "SELECT key_id, COUNT(*) FROM credentials GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(p)
        .await?))
    }

    /// Re-encrypts every credential not yet under the primary key, in batches, each row with a
    /// compare-and-swap so a concurrent update is never overwritten with stale data.
    pub async fn rotate_credentials(&self, keys: &Keyring, batch: usize) -> Result<RotationReport> {
        let mut report = RotationReport::default();
        let primary = keys.primary().as_str().to_owned();
        let mut skip: Vec<(String, String)> = Vec::new();
        loop {
            let rows: Vec<(String, String, String)> = with_pool!(self, p => sqlx::query_as(
                "SELECT tenant_id, name, ciphertext FROM credentials WHERE key_id <> $1 ORDER BY tenant_id, name LIMIT $2",
            )
            .bind(&primary)
            .bind((batch + skip.len()) as i64)
            .fetch_all(p)
            .await?);
            let todo: Vec<_> = rows
                .into_iter()
                .filter(|(t, n, _)| !skip.contains(&(t.clone(), n.clone())))
                .collect();
            if todo.is_empty() {
                return Ok(report);
            }
            for (tenant_s, name, envelope) in todo {
                let tenant: TenantId = parse_id(&tenant_s, "credentials.tenant_id")?;
                match keys.reencrypt(tenant, &name, &envelope) {
                    Ok(Some(fresh)) => {
                        let done = with_pool!(self, p => sqlx::query(
                            "UPDATE credentials SET ciphertext = $4, key_id = $5, updated_at = $6 \
                             WHERE tenant_id = $1 AND name = $2 AND ciphertext = $3",
                        )
                        .bind(&tenant_s)
                        .bind(&name)
                        .bind(&envelope)
                        .bind(fresh)
                        .bind(&primary)
                        .bind(now_millis())
                        .execute(p)
                        .await?
                        .rows_affected());
                        report.rotated += done;
                    }
                    Ok(None) => skip.push((tenant_s, name)),
                    Err(e) => {
                        report.failed.push(format!("{tenant_s}/{name}: {e}"));
                        skip.push((tenant_s, name));
                    }
                }
            }
        }
    }
}
