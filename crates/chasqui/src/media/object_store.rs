//! Where media bytes live: any [`ObjectStore`] (a local directory by default), written in
//! streamed parts so a 100 MB file never sits in memory, hashed on the way in, and published
//! only when complete (a half-written file is never visible under its key).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// How many bytes of a file's start are kept for type checks (magic numbers, WebP animation).
const HEAD_BYTES: usize = 64;

/// Parts written at once while streaming into the store.
const PARTS_IN_FLIGHT: usize = 2;

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

/// The media store: keys are `tenants/<tenant_id>/media/<media_id>`.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
}

impl fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaStore({})", self.inner)
    }
}

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

    /// The store the configuration names (`storage.media_dir`).
    pub fn from_config(config: &Config) -> Result<Self, MediaStoreError> {
        Self::local(&config.media_dir())
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
}

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
