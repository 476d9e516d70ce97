//! Where media bytes live: any [`ObjectStore`] (a local directory by default; S3 or GCS when
//! `storage.media_url` names one), written in streamed parts so a 100 MB file never sits in
//! memory, hashed on the way in, and published only when complete (a half-written file is never
//! visible under its key).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::config::{Config, MediaUrl, ObjectStoreEnv};

/// How many bytes of a file's start are kept for type checks (magic numbers, WebP animation).
const HEAD_BYTES: usize = 64;

/// Parts written at once while streaming into the store.
const PARTS_IN_FLIGHT: usize = 2;

/// How S3 and GCS requests are retried: a few quick retries ride out throttling and a dropped
/// connection, and an unreachable store fails within seconds (a read answers before the request
/// timeout; a download gives its worker back and is retried by the job queue) instead of after
/// `object_store`'s default of 10 retries over up to 3 minutes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
    }
}

/// A failure of the media store.
#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    /// No object under that key.
    #[error("no stored object at `{0}`")]
    NotFound(String),
    /// The media directory cannot be used.
    #[error("the media directory {path} cannot be used: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The S3 or GCS client for `storage.media_url` cannot be built (a bad `AWS_*` / `GOOGLE_*`
    /// variable, an unreadable service account file…).
    #[error("the media store {url} cannot be opened: {source}")]
    Remote {
        /// `storage.media_url` (it never holds credentials).
        url: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// The store failed.
    #[error("media store: {0}")]
    Store(#[source] object_store::Error),
}

impl From<object_store::Error> for MediaStoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => MediaStoreError::NotFound(path),
            other => MediaStoreError::Store(other),
        }
    }
}

/// The media store: keys are `tenants/<tenant_id>/media/<media_id>` (below the prefix of
/// `storage.media_url` when it names a bucket).
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
}

impl fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaStore({})", self.inner)
    }
}

/// S3 and GCS stores already built, by URL and client environment: each holds an HTTP client
/// with its connection pool and credential cache, too costly to build for every request.
type RemoteKey = (String, ObjectStoreEnv);
static REMOTE_STORES: LazyLock<Mutex<HashMap<RemoteKey, MediaStore>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn object_path(key: &str) -> Result<ObjectPath, MediaStoreError> {
    ObjectPath::parse(key).map_err(|e| MediaStoreError::Store(e.into()))
}

impl MediaStore {
    /// A store over any object store (S3, GCS, in-memory…).
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner }
    }

    /// A store in a local directory (created if missing); files are fsynced before a write
    /// counts as done, so a download marked stored survives a power loss.
    pub fn local(dir: &Path) -> Result<Self, MediaStoreError> {
        let err = |source| MediaStoreError::Directory {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Self::new(Arc::new(fs)))
    }

    /// The store the configuration names: `storage.media_url` when set, else the local
    /// `storage.media_dir`. S3 and GCS clients are built once per URL and environment and
    /// shared, so calling this for every request costs a map lookup.
    pub fn from_config(config: &Config) -> Result<Self, MediaStoreError> {
        match &config.storage.media_url {
            None => Self::local(&config.media_dir()),
            Some(MediaUrl::File { dir }) => Self::local(dir),
            Some(url) => {
                let key = (url.as_url(), config.object_store_env().clone());
                let mut built = REMOTE_STORES
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(store) = built.get(&key) {
                    return Ok(store.clone());
                }
                let store = Self::remote(url, config.object_store_env())?;
                built.insert(key, store.clone());
                Ok(store)
            }
        }
    }

    /// An S3 or GCS store for `url`, its client configured from `env` the way `object_store`'s
    /// `from_env()` reads the process environment (`AWS_*`; `GOOGLE_*` and `SERVICE_ACCOUNT`),
    /// every key below the URL's prefix. Builds the client only: nothing is sent yet.
    fn remote(url: &MediaUrl, env: &ObjectStoreEnv) -> Result<Self, MediaStoreError> {
        let failed = |source| MediaStoreError::Remote {
            url: url.as_url(),
            source,
        };
        let (store, prefix): (Arc<dyn ObjectStore>, &ObjectPath) = match url {
            MediaUrl::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::new();
                for (name, value) in env.vars().filter(|(n, _)| n.starts_with("AWS_")) {
                    if let Ok(key) = AmazonS3ConfigKey::from_str(&name.to_ascii_lowercase()) {
                        builder = builder.with_config(key, value);
                    }
                }
                let s3 = builder
                    .with_url(format!("s3://{bucket}"))
                    .with_retry(retry_config())
                    .build()
                    .map_err(failed)?;
                (Arc::new(s3), prefix)
            }
            MediaUrl::Gcs { bucket, prefix } => {
                let mut builder = GoogleCloudStorageBuilder::new();
                // As `from_env()`: `SERVICE_ACCOUNT` first, so `GOOGLE_*` names win over it.
                if let Some((_, path)) = env.vars().find(|(n, _)| *n == "SERVICE_ACCOUNT") {
                    builder = builder.with_service_account_path(path);
                }
                for (name, value) in env.vars().filter(|(n, _)| n.starts_with("GOOGLE_")) {
                    if let Ok(key) = GoogleConfigKey::from_str(&name.to_ascii_lowercase()) {
                        builder = builder.with_config(key, value);
                    }
                }
                let gcs = builder
                    .with_url(format!("gs://{bucket}"))
                    .with_retry(retry_config())
                    .build()
                    .map_err(failed)?;
                (Arc::new(gcs), prefix)
            }
            MediaUrl::File { dir } => return Self::local(dir),
        };
        if prefix.as_ref().is_empty() {
            Ok(Self::new(store))
        } else {
            Ok(Self::new(Arc::new(PrefixStore::new(store, prefix.clone()))))
        }
    }

    /// Starts writing the object `key`; nothing is visible under it until [`MediaWriter::commit`].
    pub async fn writer(&self, key: &str) -> Result<MediaWriter, MediaStoreError> {
        let upload = self.inner.put_multipart(&object_path(key)?).await?;
        Ok(MediaWriter {
            upload: WriteMultipart::new(upload),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD_BYTES),
        })
    }

    /// The object `key`: its size and its bytes as a stream.
    pub async fn read(&self, key: &str) -> Result<StoredObject, MediaStoreError> {
        let got = self.inner.get(&object_path(key)?).await?;
        let size = got.meta.size;
        let stream = got
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed();
        Ok(StoredObject { size, stream })
    }

    /// Deletes the object `key` (missing is fine).
    pub async fn delete(&self, key: &str) -> Result<(), MediaStoreError> {
        match self.inner.delete(&object_path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// For readiness checks: whether the store answers and accepts this process's credentials,
    /// with the fewest requests. Reads the metadata of [`PROBE_KEY`] (one `HEAD` on S3 and
    /// GCS); when that fails (the first time, or with permissions that answer a missing key
    /// with 403), writes the small probe object, which must then succeed. With `always_write`
    /// it writes every time: for a local directory, where a write is cheap and being writable
    /// is what can break. Needs only the permissions media already need (get and put).
    pub async fn probe(&self, always_write: bool) -> Result<(), MediaStoreError> {
        let key = object_path(PROBE_KEY)?;
        if !always_write && self.inner.head(&key).await.is_ok() {
            return Ok(());
        }
        self.inner
            .put(
                &key,
                Bytes::from_static(b"chasqui readiness probe\n").into(),
            )
            .await?;
        Ok(())
    }
}

/// The object [`MediaStore::probe`] reads and writes, at the root of the store (below the
/// prefix of `storage.media_url`), outside `tenants/` so it is never taken for media.
pub const PROBE_KEY: &str = "chasqui-readiness-probe";

/// A stored object being read.
pub struct StoredObject {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl fmt::Debug for StoredObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredObject")
            .field("size", &self.size)
            .finish()
    }
}

/// An object being written: counts and hashes every byte.
pub struct MediaWriter {
    upload: WriteMultipart,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl fmt::Debug for MediaWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaWriter")
            .field("size", &self.size)
            .finish()
    }
}

impl MediaWriter {
    /// Appends bytes, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), MediaStoreError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(&chunk);
        self.size += chunk.len() as u64;
        self.upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.upload.put(chunk);
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes of the file.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The SHA-256 of the bytes written so far.
    pub fn sha256(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// Publishes the object under its key.
    pub async fn commit(self) -> Result<(), MediaStoreError> {
        self.upload.finish().await?;
        Ok(())
    }

    /// Throws the written bytes away.
    pub async fn abort(self) {
        if let Err(e) = self.upload.abort().await {
            tracing::debug!(error = %e, "could not clean up an abandoned media upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::CliOverrides;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(&CliOverrides::default(), &env)
            .expect("configuration loads")
            .0
    }

    #[test]
    fn an_s3_store_is_built_once_per_url_and_environment_below_its_prefix() {
        let env = [
            ("CHASQUI_MEDIA_URL", "s3://unit-test-bucket/staging/eu"),
            ("AWS_ACCESS_KEY_ID", "AKIAUNITTEST"),
            ("AWS_SECRET_ACCESS_KEY", "unit-test-secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        let a = MediaStore::from_config(&config(&env)).expect("builds without the network");
        let b = MediaStore::from_config(&config(&env)).expect("builds");
        assert!(Arc::ptr_eq(&a.inner, &b.inner), "one client per URL");
        let shown = format!("{a:?}");
        assert_eq!(shown, "MediaStore(PrefixObjectStore(staging/eu))");

        let mut other = env;
        other[2] = ("AWS_SECRET_ACCESS_KEY", "another-secret");
        let c = MediaStore::from_config(&config(&other)).expect("builds");
        assert!(
            !Arc::ptr_eq(&a.inner, &c.inner),
            "new credentials, new client"
        );

        let root =
            MediaStore::from_config(&config(&[("CHASQUI_MEDIA_URL", "s3://unit-test-bucket")]))
                .expect("builds");
        let shown = format!("{root:?}");
        assert!(
            shown.starts_with("MediaStore(AmazonS3(unit-test-bucket)"),
            "{shown}"
        );
        let err = MediaStore::from_config(&config(&[
            ("CHASQUI_MEDIA_URL", "s3://unit-test-bucket"),
            ("AWS_SECRET_ACCESS_KEY", "unit-test-secret"),
            ("AWS_CHECKSUM_ALGORITHM", "not-a-checksum"),
        ]))
        .expect_err("a bad AWS_* value is refused");
        let text = format!("{err} {err:?}");
        assert!(
            text.starts_with("the media store s3://unit-test-bucket cannot be opened"),
            "{text}"
        );
        assert!(!text.contains("unit-test-secret"), "{text}");
    }

    #[test]
    fn a_gcs_store_whose_service_account_file_is_missing_names_the_url() {
        let err = MediaStore::from_config(&config(&[
            ("CHASQUI_MEDIA_URL", "gs://unit-test-bucket/media"),
            ("GOOGLE_SERVICE_ACCOUNT", "/nonexistent/chasqui-sa.json"),
        ]))
        .expect_err("the key file does not exist");
        assert!(matches!(err, MediaStoreError::Remote { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("the media store gs://unit-test-bucket/media cannot be opened"),
            "{text}"
        );
    }

    #[test]
    fn a_file_url_is_a_local_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let media = dir.path().join("m");
        let url = format!("file://{}", media.display());
        let store = MediaStore::from_config(&config(&[("CHASQUI_MEDIA_URL", &url)]))
            .expect("a local store");
        assert!(media.is_dir(), "created");
        assert!(
            format!("{store:?}").contains("LocalFileSystem"),
            "{store:?}"
        );
    }
}
