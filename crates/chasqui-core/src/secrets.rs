//! Credentials at rest: AES-256-GCM envelopes that name their key and are bound to a tenant
//! and a column, so a ciphertext copied to another row or tenant fails to decrypt.
//!
//! An envelope is the text `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The associated
//! data is `chasqui/v1/<key id>/<tenant id>/<column>`. A [`Keyring`] holds one primary key (used
//! to encrypt) and any number of older keys (still used to decrypt), so keys rotate without
//! downtime: add a new primary, re-encrypt, then drop the old key.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;

use crate::ids::TenantId;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// What can go wrong with master keys and envelopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// The key specification could not be read.
    #[error(
        "invalid master key specification: {0}; expected `ID:BASE64` entries (32 random bytes each, \
         e.g. `k1:$(openssl rand -base64 32)`) separated by commas, the first being the primary"
    )]
    BadKeySpec(String),
    /// The envelope names a key this keyring does not hold.
    #[error(
        "the secret was encrypted with key `{0}`, which is not in the keyring; add that key to CHASQUI_MASTER_KEY (after the primary) to read it"
    )]
    UnknownKey(String),
    /// The envelope is not of the form `v1.<key id>.<data>`.
    #[error("the stored secret is not a valid envelope")]
    Malformed,
    /// Authentication failed: tampered data, or a different tenant/column than it was bound to.
    #[error(
        "the stored secret failed authentication (tampered, or bound to another tenant or column)"
    )]
    Forged,
}

/// A key id, short and printable: it is written into every envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Validates an id: 1 to 32 characters of `[A-Za-z0-9-]`.
    pub fn parse(s: &str) -> Result<Self, SecretsError> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(SecretsError::BadKeySpec(format!(
                "key id `{s}` must be 1-32 letters, digits or dashes"
            )))
        }
    }

    /// The id as written in envelopes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One 256-bit master key and its id.
#[derive(Clone)]
pub struct MasterKey {
    id: KeyId,
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, <redacted>)", self.id)
    }
}

impl MasterKey {
    /// A fresh random key under the given id.
    pub fn generate(id: KeyId) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self { id, key }
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The `ID:BASE64` form, for a key file or an environment variable.
    pub fn to_spec(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }
}

/// The keys a process can use: the first encrypts, all decrypt.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

/// A secret in memory, redacted in `Debug` so it never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plaintext secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext; call only where the secret is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Keyring {
    /// A keyring from master keys; the first is the primary.
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, SecretsError> {
        if keys.is_empty() {
            return Err(SecretsError::BadKeySpec("no key given".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(SecretsError::BadKeySpec(format!(
                    "key id `{}` appears twice",
                    k.id
                )));
            }
        }
        Ok(Self { keys })
    }

    /// Reads `ID:BASE64[,ID:BASE64…]` (commas or newlines between entries; `#` starts a comment).
    pub fn from_spec(spec: &str) -> Result<Self, SecretsError> {
        let mut keys = Vec::new();
        let entries = spec
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(','))
            .map(str::trim);
        for entry in entries {
            if entry.is_empty() {
                continue;
            }
            let (id, b64) = entry.split_once(':').ok_or_else(|| {
                SecretsError::BadKeySpec("an entry has no `:` between id and key".into())
            })?;
            let id = KeyId::parse(id.trim())?;
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| SecretsError::BadKeySpec(format!("key `{id}` is not valid base64")))?;
            let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                SecretsError::BadKeySpec(format!(
                    "key `{id}` is {} bytes long, it must be 32",
                    b.len()
                ))
            })?;
            keys.push(MasterKey { id, key });
        }
        Self::new(keys)
    }

    /// The keyring written back as a spec (primary first).
    pub fn to_spec(&self) -> String {
        self.keys
            .iter()
            .map(MasterKey::to_spec)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The key that encrypts.
    pub fn primary(&self) -> &KeyId {
        &self.keys[0].id
    }

    /// Every key id, primary first.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| &k.id)
    }

    /// The same keyring with `key` as the new primary (the old keys still decrypt).
    pub fn with_new_primary(&self, key: MasterKey) -> Result<Self, SecretsError> {
        let mut keys = vec![key];
        keys.extend(self.keys.iter().cloned());
        Self::new(keys)
    }

    /// The keyring without `id`; refuses to remove the primary.
    pub fn without(&self, id: &KeyId) -> Result<Self, SecretsError> {
        if self.primary() == id {
            return Err(SecretsError::BadKeySpec(format!(
                "`{id}` is the primary key and cannot be removed"
            )));
        }
        Self::new(self.keys.iter().filter(|k| &k.id != id).cloned().collect())
    }

    fn aad(key: &KeyId, tenant: TenantId, column: &str) -> String {
        format!("chasqui/{VERSION}/{key}/{tenant}/{column}")
    }

    /// Encrypts `plaintext` for `tenant`'s `column` under the primary key.
    pub fn encrypt(&self, tenant: TenantId, column: &str, plaintext: &Secret) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key));
        let aad = Self::aad(&key.id, tenant, column);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.expose().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default(); // AES-GCM encryption only fails for inputs over 64 GiB.
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(data))
    }

    /// The key id an envelope was sealed with, without decrypting it.
    pub fn envelope_key_id(envelope: &str) -> Result<KeyId, SecretsError> {
        let mut parts = envelope.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(VERSION), Some(id), Some(_)) => {
                KeyId::parse(id).map_err(|_| SecretsError::Malformed)
            }
            _ => Err(SecretsError::Malformed),
        }
    }

    /// Decrypts an envelope bound to `tenant` and `column`.
    pub fn decrypt(
        &self,
        tenant: TenantId,
        column: &str,
        envelope: &str,
    ) -> Result<Secret, SecretsError> {
        let id = Self::envelope_key_id(envelope)?;
        let data = envelope
            .splitn(3, '.')
            .nth(2)
            .ok_or(SecretsError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_string()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| SecretsError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SecretsError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key));
        let aad = Self::aad(&id, tenant, column);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Forged)?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| SecretsError::Forged)
    }

    /// Decrypts and, if the envelope is not under the primary key, re-encrypts it under the primary.
    /// Returns `None` when it is already current.
    pub fn reencrypt(
        &self,
        tenant: TenantId,
        column: &str,
        envelope: &str,
    ) -> Result<Option<String>, SecretsError> {
        if &Self::envelope_key_id(envelope)? == self.primary() {
            return Ok(None);
        }
        let plain = self.decrypt(tenant, column, envelope)?;
        Ok(Some(self.encrypt(tenant, column, &plain)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(id: &str) -> Keyring {
        Keyring::new(vec![MasterKey::generate(KeyId::parse(id).unwrap())]).unwrap()
    }

    #[test]
    fn round_trip() {
        let ring = ring("k1");
        let tenant = TenantId::new();
        let env = ring.encrypt(tenant, "access_token", &Secret::new("EAAG-secret"));
        assert!(env.starts_with("v1.k1."));
        assert!(!env.contains("EAAG"));
        assert_eq!(
            ring.decrypt(tenant, "access_token", &env).unwrap().expose(),
            "EAAG-secret"
        );
    }

    #[test]
    fn nonces_differ_between_encryptions() {
        let ring = ring("k1");
        let t = TenantId::new();
        assert_ne!(
            ring.encrypt(t, "c", &Secret::new("x")),
            ring.encrypt(t, "c", &Secret::new("x"))
        );
    }

    #[test]
    fn tampering_is_detected() {
        let ring = ring("k1");
        let t = TenantId::new();
        let env = ring.encrypt(t, "app_secret", &Secret::new("hunter2"));
        let (head, data) = env.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 0x01;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(
                ring.decrypt(t, "app_secret", &forged).unwrap_err(),
                SecretsError::Forged,
                "byte {i}"
            );
            bytes[i] ^= 0x01;
        }
    }

    #[test]
    fn wrong_tenant_or_column_fails() {
        let ring = ring("k1");
        let t = TenantId::new();
        let env = ring.encrypt(t, "access_token", &Secret::new("tok"));
        assert_eq!(
            ring.decrypt(TenantId::new(), "access_token", &env)
                .unwrap_err(),
            SecretsError::Forged
        );
        assert_eq!(
            ring.decrypt(t, "app_secret", &env).unwrap_err(),
            SecretsError::Forged
        );
    }

    #[test]
    fn wrong_or_relabelled_key_id_fails() {
        let k1 = MasterKey::generate(KeyId::parse("k1").unwrap());
        let k2 = MasterKey::generate(KeyId::parse("k2").unwrap());
        let both = Keyring::new(vec![k1, k2.clone()]).unwrap();
        let only_k2 = Keyring::new(vec![k2]).unwrap();
        let t = TenantId::new();
        let env = both.encrypt(t, "c", &Secret::new("s"));
        assert_eq!(
            only_k2.decrypt(t, "c", &env).unwrap_err(),
            SecretsError::UnknownKey("k1".into())
        );
        // Claiming the envelope was sealed by k2 does not make k2 open it.
        let relabelled = env.replacen("v1.k1.", "v1.k2.", 1);
        assert_eq!(
            both.decrypt(t, "c", &relabelled).unwrap_err(),
            SecretsError::Forged
        );
    }

    #[test]
    fn rotation_reencrypts_under_the_new_primary_and_old_key_can_then_go() {
        let old = ring("k1");
        let t = TenantId::new();
        let env = old.encrypt(t, "c", &Secret::new("s3cret"));
        let rotated = old
            .with_new_primary(MasterKey::generate(KeyId::parse("k2").unwrap()))
            .unwrap();
        assert_eq!(rotated.primary().as_str(), "k2");
        // Old envelopes stay readable during the rotation.
        assert_eq!(rotated.decrypt(t, "c", &env).unwrap().expose(), "s3cret");
        let fresh = rotated.reencrypt(t, "c", &env).unwrap().unwrap();
        assert_eq!(Keyring::envelope_key_id(&fresh).unwrap().as_str(), "k2");
        assert_eq!(rotated.reencrypt(t, "c", &fresh).unwrap(), None);
        let retired = rotated.without(&KeyId::parse("k1").unwrap()).unwrap();
        assert_eq!(retired.decrypt(t, "c", &fresh).unwrap().expose(), "s3cret");
        assert!(retired.decrypt(t, "c", &env).is_err());
    }

    #[test]
    fn spec_round_trip_and_errors() {
        let r = ring("main-1")
            .with_new_primary(MasterKey::generate(KeyId::parse("main-2").unwrap()))
            .unwrap();
        let back = Keyring::from_spec(&format!(
            "# keys (ID:BASE64, primary first)\n{}",
            r.to_spec()
        ))
        .unwrap();
        assert_eq!(
            back.key_ids().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["main-2", "main-1"]
        );
        assert!(matches!(
            Keyring::from_spec(""),
            Err(SecretsError::BadKeySpec(_))
        ));
        assert!(
            Keyring::from_spec("k1:dG9vc2hvcnQ=")
                .unwrap_err()
                .to_string()
                .contains("must be 32")
        );
        assert!(Keyring::from_spec("nocolon").is_err());
        let dup = format!("{},{}", r.keys[0].to_spec(), r.keys[0].to_spec());
        assert!(
            Keyring::from_spec(&dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn debug_redacts() {
        let r = ring("k1");
        assert!(!format!("{r:?}").contains(&STANDARD.encode(r.keys[0].key)));
        assert_eq!(format!("{:?}", Secret::new("tok")), "Secret(<redacted>)");
    }

    proptest! {
        #[test]
        fn decrypt_never_panics(s in ".*") {
            let _ = ring("k1").decrypt(TenantId::new(), "c", &s);
        }
    }
}
