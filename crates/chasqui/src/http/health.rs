//! `/healthz` (the process answers) and `/readyz` (it can serve: database reachable, schema
//! current, media store usable).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use chasqui_store::MigrationStatus;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::Json;
use crate::config::{Config, MediaUrl, ObjectStoreEnv};
use crate::media::object_store::MediaStore;

/// How long the database may take to answer before it counts as unreachable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the media store check may take before the store counts as unreachable.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a media store check's result is reused, so frequent probes (every instance, every
/// few seconds) do not turn into a stream of requests to S3 or GCS.
const MEDIA_CACHE_TTL: Duration = Duration::from_secs(5);

/// The longest store error quoted in a reason (S3 errors can carry a whole XML document).
const MAX_STORE_ERROR: usize = 600;

/// `GET /healthz`: liveness only; never touches the database.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// A failed readiness check: a stable code and the reason, for the person reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    code: &'static str,
    reason: String,
}

impl Problem {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// `GET /readyz`: 200 when the database answers, its migrations match this binary and the
/// media store can be used; 503 otherwise, with the first failing check's code, every failing
/// check's reason, and each check's outcome under `checks`.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let backend = state.store.backend().as_str();
    let (database, media) = tokio::join!(check_database(&state), check_media_store(&state.config));
    let outcome = |r: &Result<(), Problem>| r.as_ref().map_or_else(|p| p.code, |()| "ok");
    let checks = json!({ "database": outcome(&database), "media_store": outcome(&media) });
    let media_kind = media_store_kind(&state.config);
    let problems: Vec<Problem> = [database, media]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    let Some(first) = problems.first() else {
        return Ok(Json(json!({
            "status": "ready",
            "database": backend,
            "migrations": "current",
            "media_store": media_kind,
            "checks": checks,
        })));
    };
    let reasons: Vec<&str> = problems.iter().map(|p| p.reason.as_str()).collect();
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        first.code,
        format!("Not ready: {}.", reasons.join("; ")),
    )
    .with_extra(json!({
        "status": "unavailable",
        "database": backend,
        "media_store": media_kind,
        "checks": checks,
    })))
}

/// The database answers within [`DATABASE_TIMEOUT`] and its migrations are this binary's.
async fn check_database(state: &AppState) -> Result<(), Problem> {
    match tokio::time::timeout(DATABASE_TIMEOUT, state.store.ping()).await {
        Err(_) => {
            return Err(Problem::new(
                "database_unreachable",
                "the database did not answer within 3 s",
            ));
        }
        Ok(Err(e)) => {
            return Err(Problem::new(
                "database_unreachable",
                format!("the database is not reachable: {e}"),
            ));
        }
        Ok(Ok(())) => {}
    }
    match state.store.migration_status().await {
        Ok(MigrationStatus::Current) => Ok(()),
        Ok(MigrationStatus::Pending(v)) => Err(Problem::new(
            "migrations_pending",
            format!("migrations {v:?} are not applied; run `chasqui migrate`"),
        )),
        Ok(MigrationStatus::Ahead(v)) => Err(Problem::new(
            "schema_newer_than_binary",
            format!("the database has migrations {v:?} this binary does not know; upgrade Chasqui"),
        )),
        Ok(MigrationStatus::Dirty(v)) => Err(Problem::new(
            "migration_failed",
            format!("migration {v} failed part-way; inspect the database"),
        )),
        Err(e) => Err(Problem::new(
            "database_unreachable",
            format!("could not read the migration table: {e}"),
        )),
    }
}

/// `local`, `s3` or `gcs`: where media go, for the readiness answer.
fn media_store_kind(config: &Config) -> &'static str {
    match &config.storage.media_url {
        None | Some(MediaUrl::File { .. }) => "local",
        Some(MediaUrl::S3 { .. }) => "s3",
        Some(MediaUrl::Gcs { .. }) => "gcs",
    }
}

/// The setting that names the media store and its value (never a credential: a `media_url`
/// with one is refused at start-up).
fn media_setting(config: &Config) -> (&'static str, String) {
    match &config.storage.media_url {
        None => (
            "storage.media_dir",
            config.media_dir().display().to_string(),
        ),
        Some(url) => ("storage.media_url", url.as_url()),
    }
}

/// A media store check's result and when it was made.
#[derive(Debug, Clone)]
struct MediaCheck {
    at: Instant,
    outcome: Result<(), Problem>,
}

/// One slot per media store (setting, value and client environment): the last check, behind
/// an async lock so concurrent probes wait for one check instead of each making their own.
type MediaCheckSlot = Arc<tokio::sync::Mutex<Option<MediaCheck>>>;

static MEDIA_CHECKS: LazyLock<Mutex<HashMap<(String, ObjectStoreEnv), MediaCheckSlot>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The media store can be used: for a local directory, it exists (or can be created) and
/// takes a write; for S3 or GCS, it answers within [`MEDIA_TIMEOUT`] and accepts the
/// credentials ([`MediaStore::probe`]). The result is reused for [`MEDIA_CACHE_TTL`].
async fn check_media_store(config: &Config) -> Result<(), Problem> {
    let (setting, value) = media_setting(config);
    let slot = {
        let mut checks = MEDIA_CHECKS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        checks
            .entry((
                format!("{setting}={value}"),
                config.object_store_env().clone(),
            ))
            .or_default()
            .clone()
    };
    let mut last = slot.lock().await;
    if let Some(check) = last.as_ref()
        && check.at.elapsed() < MEDIA_CACHE_TTL
    {
        return check.outcome.clone();
    }
    let outcome = probe_media_store(config, setting, &value).await;
    match (&outcome, last.as_ref().map(|c| c.outcome.is_ok())) {
        (Err(p), None | Some(true)) => {
            tracing::warn!(reason = %p.reason, "readiness: the media store cannot be used");
        }
        (Ok(()), Some(false)) => tracing::info!("readiness: the media store can be used again"),
        _ => {}
    }
    *last = Some(MediaCheck {
        at: Instant::now(),
        outcome: outcome.clone(),
    });
    outcome
}

async fn probe_media_store(config: &Config, setting: &str, value: &str) -> Result<(), Problem> {
    let unusable = |error: &dyn std::fmt::Display| {
        Problem::new(
            "media_store_unreachable",
            format!(
                "the media store cannot be used ({setting} = {value}): {}",
                scrub(&error.to_string(), config.object_store_env())
            ),
        )
    };
    let store = MediaStore::from_config(config).map_err(|e| unusable(&e))?;
    // A local directory is written on every check: being writable is what can break there.
    let always_write = media_store_kind(config) == "local";
    match tokio::time::timeout(MEDIA_TIMEOUT, store.probe(always_write)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(unusable(&e)),
        Err(_) => Err(Problem::new(
            "media_store_unreachable",
            format!(
                "the media store did not answer within {} s ({setting} = {value})",
                MEDIA_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// A store error fit for an unauthenticated answer: on one line, shortened, and with the
/// value of every credential variable of the S3 or GCS client replaced by `***` (in case a
/// store echoes one back).
fn scrub(error: &str, env: &ObjectStoreEnv) -> String {
    let mut text = error.to_owned();
    // An S3 error body starts with an XML declaration that says nothing.
    while let Some(start) = text.find("<?xml")
        && let Some(len) = text[start..].find("?>")
    {
        text.replace_range(start..start + len + 2, "");
    }
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (name, value) in env.vars() {
        let secret = ["KEY", "SECRET", "TOKEN", "PASSWORD"]
            .iter()
            .any(|s| name.contains(s));
        if secret && value.len() >= 4 {
            text = text.replace(value, "***");
        }
    }
    if let Some((cut, _)) = text.char_indices().nth(MAX_STORE_ERROR) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_shortened_and_lose_credentials() {
        let env = ObjectStoreEnv::from_env(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAHEALTHTEST"),
                ("AWS_SECRET_ACCESS_KEY", "very-secret-value"),
                ("AWS_REGION", "us-east-1"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        );
        let text = scrub(
            "403 Forbidden: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n  <Error><AWSAccessKeyId>AKIAHEALTHTEST</AWSAccessKeyId>\n<Key>very-secret-value</Key> in us-east-1</Error>",
            &env,
        );
        assert_eq!(
            text,
            "403 Forbidden: <Error><AWSAccessKeyId>***</AWSAccessKeyId> <Key>***</Key> in us-east-1</Error>"
        );
        let long = scrub(&"x".repeat(1000), &env);
        assert_eq!(long.chars().count(), MAX_STORE_ERROR + 1);
        assert!(long.ends_with('…'));
    }
}
