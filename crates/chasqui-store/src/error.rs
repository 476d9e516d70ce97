//! Storage errors, classified so the HTTP layer can answer 404/409/503 without guessing.

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist (or belongs to another tenant).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique constraint refused the write.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database URL cannot be used.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// The database cannot be reached right now (connection refused, pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database answered with an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (corrupt or written by a newer version).
    #[error("corrupt stored value in {column}: {reason}")]
    Corrupt {
        /// Table and column at fault.
        column: &'static str,
        /// Why it could not be read.
        reason: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("value").to_owned())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    /// A PostgreSQL deadlock or serialization failure: the transaction was chosen to give way
    /// to a concurrent one, and the same work retried now will usually succeed.
    pub fn is_transient_conflict(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }
}

/// Shorthand for storage results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Turns a decode failure of one column into [`StoreError::Corrupt`].
pub(crate) fn corrupt(column: &'static str) -> impl FnOnce(String) -> StoreError {
    move |reason| StoreError::Corrupt { column, reason }
}

/// Parses a stored id column, reporting a bad value as [`StoreError::Corrupt`].
pub(crate) fn parse_id<T>(value: &str, column: &'static str) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| corrupt(column)(e.to_string()))
}
