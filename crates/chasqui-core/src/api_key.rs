//! API keys: random, shown once, stored only as a hash, recognisable by a public prefix.
//!
//! A key looks like `chq_live_ab12cd34_<32 random characters>`. The part up to the second
//! underscore (`chq_live_ab12cd34`) is the *prefix*: it is stored in clear so a person can tell
//! keys apart and the server can find the row; the whole key is stored only as a SHA-256 hash.
//! Keys carry 190 bits of entropy, so a fast hash is the right tool (no password stretching).

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SCHEME: &str = "chq";
const ENV_LIVE: &str = "live";
const PREFIX_ID_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Why a presented key was rejected before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyFormatError {
    /// Not of the form `chq_live_<8>_<32>`.
    #[error(
        "API keys look like `chq_live_xxxxxxxx_<32 characters>`; check that the whole key was copied"
    )]
    Malformed,
}

/// A full API key; only exists in memory when created (to show once) or when presented.
#[derive(Clone)]
pub struct ApiKey {
    full: String,
}

/// SHA-256 of a full key, the only form of the secret we store.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyHash(pub [u8; 32]);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}_…)", self.prefix())
    }
}

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyHash(…)")
    }
}

impl ApiKey {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut pick = |n: usize| -> String {
            (0..n)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        };
        let id = pick(PREFIX_ID_LEN).to_lowercase();
        let secret = pick(SECRET_LEN);
        Self {
            full: format!("{SCHEME}_{ENV_LIVE}_{id}_{secret}"),
        }
    }

    /// Checks the shape of a presented key (from an `Authorization` header).
    pub fn parse(s: &str) -> Result<Self, ApiKeyFormatError> {
        let mut parts = s.split('_');
        let ok = parts.next() == Some(SCHEME)
            && parts.next() == Some(ENV_LIVE)
            && parts.next().is_some_and(|id| {
                id.len() == PREFIX_ID_LEN
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts.next().is_some_and(|sec| {
                sec.len() == SECRET_LEN && sec.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            && parts.next().is_none();
        if ok {
            Ok(Self { full: s.to_owned() })
        } else {
            Err(ApiKeyFormatError::Malformed)
        }
    }

    /// The public part (`chq_live_ab12cd34`), safe to store, show and log.
    pub fn prefix(&self) -> &str {
        let end = SCHEME.len() + 1 + ENV_LIVE.len() + 1 + PREFIX_ID_LEN;
        &self.full[..end]
    }

    /// The whole key; show it to the person once, never log it.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The hash to store, and to compare against.
    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(Sha256::digest(self.full.as_bytes()).into())
    }

    /// Compares with a stored hash in constant time.
    pub fn matches(&self, stored: &ApiKeyHash) -> bool {
        self.hash().0.ct_eq(&stored.0).into()
    }
}

impl ApiKeyHash {
    /// Rebuilds a hash read from storage; `None` if it has the wrong length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_parse_and_match_their_hash() {
        let key = ApiKey::generate();
        let again = ApiKey::parse(key.expose()).unwrap();
        assert!(again.matches(&key.hash()));
        assert!(key.prefix().starts_with("chq_live_"));
        assert_eq!(key.prefix().len(), 17);
    }

    #[test]
    fn different_keys_do_not_match() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(!a.matches(&b.hash()));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKey::generate();
        let secret = &key.expose()[18..];
        assert!(!format!("{key:?}").contains(secret));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "chq_live_",
            "chq_test_abcdefgh_0123456789abcdefghijklmnopqrstuv",
            "chq_live_ABCDEFGH_0123456789abcdefghijklmnopqrstuv",
            "chq_live_abcdefgh_0123456789abcdefghijklmnopqrstu",
            "chq_live_abcdefgh_0123456789abcdefghijklmnopqrstuv_x",
            "Bearer chq_live_abcdefgh_0123456789abcdefghijklmnopqrstuv",
        ] {
            assert_eq!(
                ApiKey::parse(bad).unwrap_err(),
                ApiKeyFormatError::Malformed,
                "{bad}"
            );
        }
        assert!(ApiKey::parse("chq_live_abcdefgh_0123456789abcdefghijklmnopqrstuv").is_ok());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = ApiKey::parse(&s);
        }
    }
}
