//! The durable job queue: the outbox every background task goes through.
//!
//! Jobs are enqueued inside the caller's transaction, so a rolled-back change never runs its job.
//! Workers claim due jobs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single
//! writer makes the claim statement atomic); a job whose worker dies becomes claimable again when
//! its lease runs out. Completion and failure only count when the lease token still matches, so
//! a worker that lost its lease cannot undo another worker's claim. Failed jobs retry at a
//! scheduled time; after their last attempt they stay as `dead`, with the error, for replay.

use std::time::Duration;

use chasqui_core::ids::{JobId, TenantId};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Tx, value_rows, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Backend, Page, Store, from_millis, now_millis};

/// The PostgreSQL channel on which commits announce new jobs to every instance.
pub const NOTIFY_CHANNEL: &str = "chasqui_jobs";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Queue name; a worker pool serves one queue.
    pub queue: String,
    /// What to do; selects the handler.
    pub kind: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// The tenant it works for, if any.
    pub tenant: Option<TenantId>,
    /// Not before this time (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Attempts before the job is declared dead.
    pub max_attempts: u32,
}

impl NewJob {
    /// A job on the `default` queue, due now, with 10 attempts.
    pub fn new(kind: impl Into<String>, payload: impl Serialize) -> Self {
        Self {
            queue: "default".into(),
            kind: kind.into(),
            payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            tenant: None,
            run_at: None,
            max_attempts: 10,
        }
    }

    /// Scopes the job to a tenant.
    pub fn for_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Places the job on another queue.
    pub fn on_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Delays the job.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Sets the attempt budget.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// Which jobs a claim statement takes.
#[derive(Debug, Clone, Copy)]
enum Claim {
    /// Ready and due.
    Due,
    /// Running under a lease that ran out (its worker died).
    Expired,
}

/// A claimed job, held under a lease.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The tenant it works for.
    pub tenant: Option<TenantId>,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// Its input.
    pub payload: serde_json::Value,
    /// This attempt's number (1-based).
    pub attempt: u32,
    /// The attempt budget.
    pub max_attempts: u32,
    /// Proves this claim is still ours.
    pub lease_token: String,
}

/// A job in the dead-letter list.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJob {
    /// Its id.
    pub id: JobId,
    /// The tenant it worked for.
    pub tenant: Option<TenantId>,
    /// Its kind.
    pub kind: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// When it died.
    pub died_at: DateTime<Utc>,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will run again at this time.
    Retrying(DateTime<Utc>),
    /// It is parked in the dead-letter list.
    Dead,
    /// The lease was lost meanwhile; nothing was changed.
    LeaseLost,
}

/// Number of jobs per queue and state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The queue.
    pub queue: String,
    /// `ready`, `running` or `dead`.
    pub state: String,
    /// How many.
    pub count: i64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: Option<String>,
    queue: String,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct DeadRow {
    id: String,
    tenant_id: Option<String>,
    kind: String,
    attempts: i64,
    last_error: Option<String>,
    updated_at: i64,
}

impl JobRow {
    fn into_job(self, lease_token: &str) -> Result<Job> {
        Ok(Job {
            id: parse_id(&self.id, "jobs.id")?,
            tenant: self
                .tenant_id
                .as_deref()
                .map(|t| parse_id(t, "jobs.tenant_id"))
                .transpose()?,
            queue: self.queue,
            kind: self.kind,
            payload: serde_json::from_str(&self.payload).map_err(|e| StoreError::Corrupt {
                column: "jobs.payload",
                reason: e.to_string(),
            })?,
            attempt: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(u32::MAX),
            lease_token: lease_token.to_owned(),
        })
    }
}

impl Tx {
    /// Enqueues a job that runs only if this transaction commits.
    pub async fn enqueue(&mut self, job: NewJob) -> Result<JobId> {
        let ids = self.enqueue_many(std::slice::from_ref(&job)).await?;
        Ok(ids[0])
    }
}

impl Tx {
    /// Enqueues many jobs with multi-row statements (one round trip per 256), all running only
    /// if this transaction commits; on PostgreSQL each queue's listeners are notified at commit.
    pub async fn enqueue_many(&mut self, jobs: &[NewJob]) -> Result<Vec<JobId>> {
        let now = now_millis();
        let ids: Vec<JobId> = jobs.iter().map(|_| JobId::new()).collect();
        let is_pg = matches!(self.inner, crate::db::TxInner::Postgres(_));
        for (chunk_ids, chunk) in ids.chunks(256).zip(jobs.chunks(256)) {
            let sql = format!(
                "INSERT INTO jobs (id, tenant_id, queue, kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at) VALUES {}",
                value_rows(chunk.len(), "(?, ?, ?, ?, ?, 'ready', 0, ?, ?, ?, ?)")
            );
            let sql = crate::db::for_backend(self.backend(), sql);
            with_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (id, job) in chunk_ids.iter().zip(chunk) {
                    q = q
                        .bind(id.to_string())
                        .bind(job.tenant.map(|t| t.to_string()))
                        .bind(&job.queue)
                        .bind(&job.kind)
                        .bind(job.payload.to_string())
                        .bind(i64::from(job.max_attempts))
                        .bind(job.run_at.map(|t| t.timestamp_millis()).unwrap_or(now))
                        .bind(now)
                        .bind(now);
                }
                q.execute(c).await?.rows_affected()
            });
        }
        if is_pg && !jobs.is_empty() {
            let mut queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
            queues.sort_unstable();
            queues.dedup();
            for queue in queues {
                with_tx!(self, c => sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(queue).execute(c).await?.rows_affected());
            }
        }
        if !jobs.is_empty() {
            self.enqueued_jobs = true;
        }
        Ok(ids)
    }
}

impl Store {
    /// Enqueues a job in a transaction of its own.
    pub async fn enqueue(&self, job: NewJob) -> Result<JobId> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue(job).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due jobs of `queue` (and jobs whose lease expired) for `lease`.
    ///
    /// Two statements, each served by its own partial index (`jobs_due`, `jobs_leased`): one
    /// `OR` across both states made the planner scan every ready job (30 ms at 100,000).
    pub async fn claim_jobs(&self, queue: &str, limit: usize, lease: Duration) -> Result<Vec<Job>> {
        let mut jobs = self.claim(queue, limit, lease, Claim::Due).await?;
        if jobs.len() < limit && self.has_expired_leases(queue).await? {
            let more = self
                .claim(queue, limit - jobs.len(), lease, Claim::Expired)
                .await?;
            jobs.extend(more);
        }
        Ok(jobs)
    }

    async fn has_expired_leases(&self, queue: &str) -> Result<bool> {
        let found: Option<i64> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM jobs WHERE state = 'running' AND lease_until < $1 AND queue = $2 LIMIT 1",
        )
        .bind(now_millis())
        .bind(queue)
        .fetch_optional(p)
        .await?);
        Ok(found.is_some())
    }

    async fn claim(
        &self,
        queue: &str,
        limit: usize,
        lease: Duration,
        which: Claim,
    ) -> Result<Vec<Job>> {
        let token = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let lease_until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let sql = match (self.backend(), which) {
            (Backend::Sqlite, Claim::Due) => {
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state = 'ready' AND run_at <= $3 ORDER BY run_at LIMIT $5) \
                 RETURNING id, tenant_id, queue, kind, payload, attempts, max_attempts"
            }
            (Backend::Sqlite, Claim::Expired) => {
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $3 AND queue = $4 ORDER BY lease_until LIMIT $5) \
                 RETURNING id, tenant_id, queue, kind, payload, attempts, max_attempts"
            }
            (Backend::Postgres, Claim::Due) => {
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state = 'ready' AND run_at <= $3 \
                   ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, tenant_id, queue, kind, payload, attempts, max_attempts"
            }
            (Backend::Postgres, Claim::Expired) => {
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_until = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < $3 AND queue = $4 \
                   ORDER BY lease_until LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, tenant_id, queue, kind, payload, attempts, max_attempts"
            }
        };
        let _turn = self.write_turn().await?.map(|t| t.for_writer("jobs"));
        let rows: Vec<JobRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(&token)
            .bind(lease_until)
            .bind(now)
            .bind(queue)
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(|r| r.into_job(&token)).collect()
    }

    /// Marks a job done (removes it); `false` if the lease was lost meanwhile.
    pub async fn complete_job(&self, job: &Job) -> Result<bool> {
        let _turn = self.write_turn().await?.map(|t| t.for_writer("jobs"));
        let done = with_pool!(self, p => sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'")
            .bind(job.id.to_string())
            .bind(&job.lease_token)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records a failed attempt: retried at `retry_at` unless it was the last attempt or
    /// `retry_at` is `None` (a permanent failure), in which case the job is dead.
    pub async fn fail_job(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<FailOutcome> {
        let outcome = match retry_at {
            Some(at) if job.attempt < job.max_attempts => FailOutcome::Retrying(at),
            _ => FailOutcome::Dead,
        };
        let (state, run_at) = match outcome {
            FailOutcome::Retrying(at) => ("ready", at.timestamp_millis()),
            _ => ("dead", now_millis()),
        };
        let _turn = self.write_turn().await?.map(|t| t.for_writer("jobs"));
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE jobs SET state = $3, run_at = $4, last_error = $5, lease_token = NULL, lease_until = NULL, updated_at = $6 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .bind(state)
        .bind(run_at)
        .bind(error)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        Ok(if done == 1 {
            outcome
        } else {
            FailOutcome::LeaseLost
        })
    }

    /// Puts a claimed job back for later without counting the attempt (it was not tried).
    pub async fn defer_job(&self, job: &Job, run_at: DateTime<Utc>, reason: &str) -> Result<bool> {
        let _turn = self.write_turn().await?.map(|t| t.for_writer("jobs"));
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE jobs SET state = 'ready', run_at = $3, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             last_error = $4, lease_token = NULL, lease_until = NULL, updated_at = $5 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .bind(run_at.timestamp_millis())
        .bind(reason)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// On SQLite only one process uses the database, so at start-up every lease still held
    /// belongs to a process that died: make those jobs claimable now instead of after their
    /// lease runs out. Does nothing on PostgreSQL, where other instances may be alive.
    pub async fn release_orphaned_leases(&self) -> Result<u64> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        Ok(with_pool!(self, p => sqlx::query(
            "UPDATE jobs SET state = 'ready', lease_token = NULL, lease_until = NULL, run_at = $1, updated_at = $1 WHERE state = 'running'",
        )
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected()))
    }

    /// Extends a held lease (for long jobs); `false` if it was lost.
    pub async fn extend_lease(&self, job: &Job, lease: Duration) -> Result<bool> {
        let until = now_millis() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let _turn = self.write_turn().await?.map(|t| t.for_writer("jobs"));
        let done = with_pool!(self, p => sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_token = $2 AND state = 'running'")
            .bind(job.id.to_string())
            .bind(&job.lease_token)
            .bind(until)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Jobs per queue and state.
    pub async fn queue_depth(&self) -> Result<Vec<QueueDepth>> {
        let rows: Vec<(String, String, i64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT queue, state, COUNT(*) FROM jobs GROUP BY queue, state ORDER BY queue, state",
        )
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(queue, state, count)| QueueDepth {
                queue,
                state,
                count,
            })
            .collect())
    }

    /// Dead jobs, optionally of one tenant, oldest first.
    pub async fn dead_jobs(
        &self,
        tenant: Option<TenantId>,
        limit: usize,
        after: Option<JobId>,
    ) -> Result<Page<DeadJob>> {
        let rows: Vec<DeadRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, tenant_id, kind, attempts, last_error, updated_at FROM jobs \
             WHERE state = 'dead' AND ($1 IS NULL OR tenant_id = $1) AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(tenant.map(|t| t.to_string()))
        .bind(after.map(|j| j.to_string()).unwrap_or_default())
        .bind(limit as i64 + 1)
        .fetch_all(p)
        .await?);
        let jobs = rows
            .into_iter()
            .map(
                |DeadRow {
                     id,
                     tenant_id: t,
                     kind,
                     attempts,
                     last_error,
                     updated_at: at,
                 }| {
                    Ok(DeadJob {
                        id: parse_id(&id, "jobs.id")?,
                        tenant: t
                            .as_deref()
                            .map(|t| parse_id(t, "jobs.tenant_id"))
                            .transpose()?,
                        kind,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                        last_error,
                        died_at: from_millis(at),
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(jobs, limit, |j| j.id.to_string()))
    }

    /// Puts a dead job back in the queue with a fresh attempt budget.
    pub async fn replay_job(&self, id: JobId) -> Result<()> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE jobs SET state = 'ready', attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND state = 'dead'",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("dead job"));
        }
        if self.backend() == Backend::Postgres {
            with_tx!(tx, c => sqlx::query("SELECT pg_notify($1, 'replay')").bind(NOTIFY_CHANNEL).execute(c).await?.rows_affected());
        }
        tx.enqueued_jobs = true;
        tx.commit().await
    }
}
