//! The storage contract: every test runs against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `chasqui-testdb` (a throwaway cluster, or `TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chasqui_core::api_key::ApiKey;
use chasqui_core::plan::Plan;
use chasqui_core::secrets::{KeyId, Keyring, MasterKey, Secret};
use chasqui_store::jobs::{FailOutcome, NewJob};
use chasqui_store::worker::{Handlers, JobError, PoolOptions, WorkerPool};
use chasqui_store::{MigrationStatus, Store, StoreError};

#[macro_use]
mod support;

contract!(
    migrations_are_current,
    tenant_and_key_authenticate,
    revoked_and_unknown_keys_do_not_authenticate,
    keys_are_scoped_to_their_tenant,
    tenant_list_paginates,
    credentials_round_trip_and_rotate,
    job_in_rolled_back_transaction_never_runs,
    job_of_a_dead_worker_is_reclaimed_after_its_lease,
    expired_leases_are_claimed_after_due_jobs,
    a_group_commit_stores_receipts_that_queue_themselves,
    two_workers_never_claim_the_same_job,
    failed_jobs_retry_then_die_and_can_be_replayed,
    worker_pool_runs_jobs_promptly_after_commit,
    instance_setting_latch_is_set_once,
    demo_tenant_is_created_once,
    tenant_rename_is_audited,
    link_templates_round_trip_and_are_tenant_scoped,
    link_template_overrides_feed_the_renderer,
    events_fan_out_to_subscribed_endpoints_in_the_emitting_transaction,
    events_without_subscribers_are_written_at_commit_and_only_then,
    delivery_attempts_are_recorded_and_superseded_jobs_change_nothing,
    sustained_failure_disables_an_endpoint_until_it_is_enabled,
    endpoint_secrets_rotate_and_leave_with_their_endpoint,
    events_list_in_order_by_tenant_and_type,
    retention_prunes_finished_events_in_batches_and_keeps_pending_ones,
    listing_after_a_pruned_event_resumes_with_the_oldest_kept_one,
);

async fn demo_tenant_is_created_once(store: Store) {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.create_demo_tenant_once("Demo", Plan::Inicial)
                .await
                .unwrap()
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        made.extend(t.await.unwrap());
    }
    assert_eq!(
        made.len(),
        1,
        "one demo tenant even when instances start together"
    );
    let (tenant, key) = made.remove(0);
    assert_eq!(
        store.authenticate(&key).await.unwrap().unwrap().tenant_id,
        tenant.id
    );
    assert_eq!(store.list_tenants(10, None).await.unwrap().items.len(), 1);
    assert!(
        store
            .create_demo_tenant_once("Demo", Plan::Inicial)
            .await
            .unwrap()
            .is_none()
    );
}

async fn tenant_rename_is_audited(store: Store) {
    let (t, _, _) = store
        .create_tenant_with_key("Old", Plan::Inicial, "test")
        .await
        .unwrap();
    let renamed = store.rename_tenant(t.id, "New", "api:key_x").await.unwrap();
    assert_eq!(renamed.name, "New");
    let audit = store.list_audit(t.id, 10, None).await.unwrap().items;
    assert_eq!(audit.last().unwrap().action, "tenant.renamed");
    assert_eq!(audit.last().unwrap().actor, "api:key_x");
    let ghost = chasqui_core::ids::TenantId::new();
    assert!(matches!(
        store.rename_tenant(ghost, "x", "t").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn migrations_are_current(store: Store) {
    assert_eq!(
        store.migration_status().await.unwrap(),
        MigrationStatus::Current
    );
    store.ping().await.unwrap();
    // Running migrations again is a no-op.
    store.migrate().await.unwrap();
    assert_eq!(
        store.migration_status().await.unwrap(),
        MigrationStatus::Current
    );
}

async fn tenant_and_key_authenticate(store: Store) {
    let (tenant, record, key) = store
        .create_tenant_with_key("Taller Norte", Plan::Profesional, "test")
        .await
        .unwrap();
    assert_eq!(tenant.name, "Taller Norte");
    assert_eq!(tenant.plan, Plan::Profesional);
    assert_eq!(record.prefix, key.prefix());
    let presented = ApiKey::parse(key.expose()).unwrap();
    let auth = store.authenticate(&presented).await.unwrap().unwrap();
    assert_eq!(auth.tenant_id, tenant.id);
    assert_eq!(auth.key_id, record.id);
    let fetched = store.tenant(tenant.id).await.unwrap();
    assert_eq!(fetched, tenant);
    // Creation is audited, without the key.
    let audit = store.list_audit(tenant.id, 10, None).await.unwrap();
    assert_eq!(audit.items[0].action, "tenant.created");
    assert!(!audit.items[0].details.to_string().contains(key.expose()));
    // Authentication records when the key was last used.
    let keys = store
        .list_api_keys(tenant.id, 10, None)
        .await
        .unwrap()
        .items;
    assert!(keys[0].last_used_at.is_some());
}

async fn revoked_and_unknown_keys_do_not_authenticate(store: Store) {
    let (tenant, record, key) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    // Same public prefix, different secret: refused.
    let forged = ApiKey::parse(&format!("{}_{}", key.prefix(), "x".repeat(32))).unwrap();
    assert!(store.authenticate(&forged).await.unwrap().is_none());
    assert!(
        store
            .authenticate(&ApiKey::generate())
            .await
            .unwrap()
            .is_none()
    );
    // A second key keeps working when the first is revoked (by prefix).
    let (_, second) = store
        .create_api_key(tenant.id, Some("ci"), "test")
        .await
        .unwrap();
    let revoked = store.revoke_api_key(key.prefix(), "test").await.unwrap();
    assert_eq!(revoked.id, record.id);
    assert!(revoked.revoked_at.is_some());
    assert!(store.authenticate(&key).await.unwrap().is_none());
    assert!(store.authenticate(&second).await.unwrap().is_some());
    // Revoking again keeps the first time; unknown keys are NotFound.
    let again = store
        .revoke_api_key(&record.id.to_string(), "test")
        .await
        .unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert!(matches!(
        store.revoke_api_key("key_nope", "test").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn keys_are_scoped_to_their_tenant(store: Store) {
    let (a, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (b, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    store.create_api_key(a.id, None, "test").await.unwrap();
    assert_eq!(
        store
            .list_api_keys(a.id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let b_keys = store.list_api_keys(b.id, 10, None).await.unwrap().items;
    assert_eq!(b_keys.len(), 1);
    assert!(b_keys.iter().all(|k| k.tenant_id == b.id));
    assert!(
        store
            .list_audit(b.id, 50, None)
            .await
            .unwrap()
            .items
            .iter()
            .all(|e| e.tenant_id == Some(b.id))
    );
    // Creating a key for a tenant that does not exist fails cleanly.
    let ghost = chasqui_core::ids::TenantId::new();
    assert!(matches!(
        store.create_api_key(ghost, None, "t").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn tenant_list_paginates(store: Store) {
    for i in 0..5 {
        store
            .create_tenant_with_key(&format!("T{i}"), Plan::Inicial, "test")
            .await
            .unwrap();
    }
    let first = store.list_tenants(2, None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let mut seen: Vec<String> = first.items.iter().map(|t| t.name.clone()).collect();
    let mut cursor = first.next_cursor.clone();
    while let Some(c) = cursor {
        let page = store
            .list_tenants(2, Some(c.parse().unwrap()))
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|t| t.name.clone()));
        cursor = page.next_cursor;
    }
    assert_eq!(seen, ["T0", "T1", "T2", "T3", "T4"]);
}

async fn credentials_round_trip_and_rotate(store: Store) {
    let k1 = Keyring::new(vec![MasterKey::generate(KeyId::parse("k1").unwrap())]).unwrap();
    let (a, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (b, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    store
        .put_credential(&k1, a.id, "channel:1:access_token", &Secret::new("EAAG-a"))
        .await
        .unwrap();
    store
        .put_credential(&k1, b.id, "channel:1:access_token", &Secret::new("EAAG-b"))
        .await
        .unwrap();
    let got = store
        .credential(&k1, a.id, "channel:1:access_token")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.expose(), "EAAG-a");
    assert!(
        store
            .credential(&k1, a.id, "missing")
            .await
            .unwrap()
            .is_none()
    );

    let k2 = k1
        .with_new_primary(MasterKey::generate(KeyId::parse("k2").unwrap()))
        .unwrap();
    // Before rotation, the new keyring still reads old rows (no downtime).
    assert_eq!(
        store
            .credential(&k2, b.id, "channel:1:access_token")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "EAAG-b"
    );
    let report = store.rotate_credentials(&k2, 1).await.unwrap();
    assert_eq!(report.rotated, 2);
    assert!(report.failed.is_empty());
    assert_eq!(
        store.credential_key_usage().await.unwrap(),
        vec![("k2".to_owned(), 2)]
    );
    let only_k2 = k2.without(&KeyId::parse("k1").unwrap()).unwrap();
    assert_eq!(
        store
            .credential(&only_k2, a.id, "channel:1:access_token")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "EAAG-a"
    );
    // Rotating again has nothing to do.
    assert_eq!(store.rotate_credentials(&k2, 10).await.unwrap().rotated, 0);
}

async fn expired_leases_are_claimed_after_due_jobs(store: Store) {
    store
        .enqueue(NewJob::new("a", serde_json::json!({})))
        .await
        .unwrap();
    let dying = store
        .claim_jobs("default", 5, Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(dying.len(), 1);
    store
        .enqueue(NewJob::new("b", serde_json::json!({})))
        .await
        .unwrap();
    store
        .enqueue(NewJob::new("c", serde_json::json!({})).on_queue("other"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One claim takes the due job and the one whose lease ran out, never another queue's.
    let claimed = store
        .claim_jobs("default", 5, Duration::from_secs(60))
        .await
        .unwrap();
    let mut kinds: Vec<_> = claimed.iter().map(|j| j.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["a", "b"]);
    for j in &claimed {
        assert!(store.complete_job(j).await.unwrap());
    }
}

async fn a_group_commit_stores_receipts_that_queue_themselves(store: Store) {
    use chasqui_store::receipts::{NewReceipt, PROCESS_RECEIPT, Share, state};
    let batch: Vec<NewReceipt> = (0..150)
        .map(|i| NewReceipt {
            provider: "whatsapp".into(),
            channel_id: None,
            tenant_id: None,
            body: format!("{{\"n\":{i}}}").into_bytes(),
            headers: serde_json::json!({}),
        })
        .collect();
    let ids = store.store_receipts(&batch).await.unwrap();
    assert_eq!(ids.len(), 150);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 150);
    // No job rows: a pending receipt is its own queue entry.
    assert!(
        store
            .claim_jobs("default", 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    // Read back in arrival order, each with its own bytes, pending.
    let read = store.pending_receipts(200, Share::ALL).await.unwrap();
    assert_eq!(read.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    for (r, b) in read.iter().zip(&batch) {
        assert_eq!(r.body, b.body);
        assert_eq!(r.state, state::PENDING);
    }
    assert_eq!(
        store.pending_receipts(10, Share::ALL).await.unwrap().len(),
        10
    );
    // Four shares split the pending receipts: each receipt in exactly one, each in order.
    let mut shared = Vec::new();
    for index in 0..4 {
        let part = store
            .pending_receipts(200, Share { index, of: 4 })
            .await
            .unwrap();
        assert!(!part.is_empty() && part.len() < 150, "{}", part.len());
        assert!(part.windows(2).all(|w| w[0].id < w[1].id));
        shared.extend(part.into_iter().map(|r| r.id));
    }
    shared.sort_unstable();
    let mut all = ids.clone();
    all.sort_unstable();
    assert_eq!(shared, all);
    // Marks made in a transaction that rolls back are not kept.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.still_pending(&ids).await.unwrap().len(), 150);
    tx.mark_receipts_processed(&ids[..100]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        store.pending_receipts(200, Share::ALL).await.unwrap().len(),
        150
    );
    let mut tx = store.begin().await.unwrap();
    tx.mark_receipts_processed(&ids[..100]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.receipt(ids[0]).await.unwrap().state, state::PROCESSED);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.still_pending(&ids).await.unwrap(), ids[100..].to_vec());
    tx.rollback().await.unwrap();
    // A failed round hands each still-pending receipt a job of its own, once.
    assert_eq!(store.hand_over_receipts(&ids[98..103]).await.unwrap(), 3);
    assert_eq!(store.hand_over_receipts(&ids[98..103]).await.unwrap(), 0);
    assert_eq!(store.receipt(ids[100]).await.unwrap().state, state::QUEUED);
    let singles = store
        .claim_jobs("default", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(singles.len(), 3);
    assert!(singles.iter().all(|j| j.kind == PROCESS_RECEIPT));
    assert_eq!(
        store.pending_receipts(200, Share::ALL).await.unwrap().len(),
        47
    );
    assert!(store.store_receipts(&[]).await.unwrap().is_empty());
}

async fn job_in_rolled_back_transaction_never_runs(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(NewJob::new("noop", serde_json::json!({"n": 1})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    {
        let mut tx = store.begin().await.unwrap();
        tx.enqueue(NewJob::new("noop", serde_json::json!({"n": 2})))
            .await
            .unwrap();
        // dropped without commit
    }
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(NewJob::new("noop", serde_json::json!({"n": 3})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let jobs = store
        .claim_jobs("default", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload["n"], 3);
}

async fn job_of_a_dead_worker_is_reclaimed_after_its_lease(store: Store) {
    store
        .enqueue(NewJob::new("slow", serde_json::json!({})))
        .await
        .unwrap();
    let first = store
        .claim_jobs("default", 1, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // While the lease holds, nobody else gets it.
    assert!(
        store
            .claim_jobs("default", 1, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = store
        .claim_jobs("default", 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempt, 2);
    // The first worker, waking up late, can neither complete nor fail the job any more.
    assert!(!store.complete_job(&first[0]).await.unwrap());
    assert_eq!(
        store.fail_job(&first[0], "late", None).await.unwrap(),
        FailOutcome::LeaseLost
    );
    assert!(store.complete_job(&second[0]).await.unwrap());
    assert!(store.queue_depth().await.unwrap().is_empty());
}

async fn two_workers_never_claim_the_same_job(store: Store) {
    let n = 60;
    let mut tx = store.begin().await.unwrap();
    for i in 0..n {
        tx.enqueue(NewJob::new("count", serde_json::json!({ "i": i })))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = store
                    .claim_jobs("default", 3, Duration::from_secs(60))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n, "every job claimed");
    assert_eq!(unique.len(), n, "no job claimed twice");
}

async fn failed_jobs_retry_then_die_and_can_be_replayed(store: Store) {
    let tenant = store
        .create_tenant_with_key("A", Plan::Inicial, "t")
        .await
        .unwrap()
        .0;
    let lease = Duration::from_secs(60);
    // A retry scheduled in the future is not claimable before its time.
    store
        .enqueue(NewJob::new("later", serde_json::json!({})).on_queue("q2"))
        .await
        .unwrap();
    let job = store.claim_jobs("q2", 1, lease).await.unwrap().remove(0);
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        store
            .fail_job(&job, "boom", Some(in_an_hour))
            .await
            .unwrap(),
        FailOutcome::Retrying(in_an_hour)
    );
    assert!(store.claim_jobs("q2", 1, lease).await.unwrap().is_empty());

    // A due retry runs again; its last attempt makes it dead, with the error kept.
    store
        .enqueue(
            NewJob::new("flaky", serde_json::json!({}))
                .for_tenant(tenant.id)
                .max_attempts(2),
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let j = store
        .claim_jobs("default", 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(j.attempt, 1);
    assert_eq!(
        store.fail_job(&j, "boom 1", Some(now)).await.unwrap(),
        FailOutcome::Retrying(now)
    );
    let j = store
        .claim_jobs("default", 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(j.attempt, 2);
    assert_eq!(
        store.fail_job(&j, "boom 2", Some(now)).await.unwrap(),
        FailOutcome::Dead
    );
    assert!(
        store
            .claim_jobs("default", 1, lease)
            .await
            .unwrap()
            .is_empty()
    );
    let dead = store.dead_jobs(Some(tenant.id), 10, None).await.unwrap();
    assert_eq!(dead.items.len(), 1);
    assert_eq!(dead.items[0].last_error.as_deref(), Some("boom 2"));
    assert_eq!(dead.items[0].attempts, 2);
    // Another tenant sees no dead jobs of this one.
    let other = store
        .create_tenant_with_key("B", Plan::Inicial, "t")
        .await
        .unwrap()
        .0;
    assert!(
        store
            .dead_jobs(Some(other.id), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Replay gives it a fresh budget; replaying a job that is not dead is NotFound.
    store.replay_job(dead.items[0].id).await.unwrap();
    let j = store
        .claim_jobs("default", 1, lease)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(j.id, dead.items[0].id);
    assert_eq!(j.attempt, 1);
    assert!(matches!(
        store.replay_job(j.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn worker_pool_runs_jobs_promptly_after_commit(store: Store) {
    let done = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let (d, a) = (done.clone(), attempts.clone());
    let handlers = Handlers::new()
        .on("ok", move |_job| {
            let d = d.clone();
            async move {
                d.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .on("fails_once", move |job| {
            let a = a.clone();
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                if job.attempt == 1 {
                    Err(JobError::Permanent("bad input".into()))
                } else {
                    Ok(())
                }
            }
        });
    // A very long poll interval: only the commit wake-up can make this test finish in time.
    let opts = PoolOptions {
        poll_interval: Duration::from_secs(3600),
        ..PoolOptions::default()
    };
    let pool = WorkerPool::new(store.clone(), handlers, opts);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(pool.run(stop_rx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut tx = store.begin().await.unwrap();
    for _ in 0..5 {
        tx.enqueue(NewJob::new("ok", serde_json::json!({})))
            .await
            .unwrap();
    }
    tx.enqueue(NewJob::new("fails_once", serde_json::json!({})))
        .await
        .unwrap();
    tx.enqueue(NewJob::new("unknown_kind", serde_json::json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while (done.load(Ordering::SeqCst) < 5 || attempts.load(Ordering::SeqCst) < 1)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(done.load(Ordering::SeqCst), 5);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap();
    // A permanent failure and an unknown kind are dead at once, with their reasons.
    let dead = store.dead_jobs(None, 10, None).await.unwrap().items;
    let reasons: HashSet<_> = dead
        .iter()
        .map(|d| (d.kind.as_str(), d.last_error.clone().unwrap()))
        .collect();
    assert!(
        reasons.contains(&("fails_once", "bad input".to_owned())),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(k, e)| *k == "unknown_kind" && e.contains("no handler")),
        "{reasons:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

async fn instance_setting_latch_is_set_once(store: Store) {
    assert_eq!(store.instance_setting("demo").await.unwrap(), None);
    let results = futures_join(store.clone()).await;
    assert_eq!(
        results.iter().filter(|r| **r).count(),
        1,
        "exactly one caller wins the latch"
    );
    assert!(store.instance_setting("demo").await.unwrap().is_some());
}

async fn futures_join(store: Store) -> Vec<bool> {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.set_instance_setting_once("demo", &i.to_string())
                .await
                .unwrap()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn link_templates_round_trip_and_are_tenant_scoped(store: Store) {
    use chasqui_core::wame::{LinkContext, Locale};

    let (mine, _, _) = store
        .create_tenant_with_key("Mine", Plan::Inicial, "test")
        .await
        .unwrap();
    let (theirs, _, _) = store
        .create_tenant_with_key("Theirs", Plan::Inicial, "test")
        .await
        .unwrap();
    let es_ar = Locale::parse("es-AR").unwrap();
    let fr = Locale::parse("fr").unwrap();
    assert!(store.link_templates(mine.id).await.unwrap().is_empty());

    let saved = store
        .put_link_template(
            mine.id,
            LinkContext::Invoice,
            &es_ar,
            "Factura {{number}}",
            "api:key_a",
        )
        .await
        .unwrap();
    assert_eq!(saved.template, "Factura {{number}}");
    store
        .put_link_template(mine.id, LinkContext::Generic, &fr, "Salut !", "api:key_a")
        .await
        .unwrap();
    // Saving again replaces (one row per tenant, context and locale).
    store
        .put_link_template(
            mine.id,
            LinkContext::Invoice,
            &es_ar,
            "Factura {{number}} de {{amount}}",
            "api:key_a",
        )
        .await
        .unwrap();
    let listed = store.link_templates(mine.id).await.unwrap();
    let keys: Vec<(LinkContext, &str, &str)> = listed
        .iter()
        .map(|t| (t.context, t.locale.as_str(), t.template.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            (LinkContext::Generic, "fr", "Salut !"),
            (
                LinkContext::Invoice,
                "es-AR",
                "Factura {{number}} de {{amount}}"
            ),
        ]
    );
    assert!(listed[1].updated_at >= saved.updated_at);

    // The other tenant sees nothing and cannot delete what is not its own.
    assert!(store.link_templates(theirs.id).await.unwrap().is_empty());
    assert!(
        !store
            .delete_link_template(theirs.id, LinkContext::Invoice, &es_ar, "t")
            .await
            .unwrap()
    );
    assert_eq!(store.link_templates(mine.id).await.unwrap().len(), 2);

    assert!(
        store
            .delete_link_template(mine.id, LinkContext::Invoice, &es_ar, "api:key_a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_link_template(mine.id, LinkContext::Invoice, &es_ar, "api:key_a")
            .await
            .unwrap()
    );
    assert_eq!(store.link_templates(mine.id).await.unwrap().len(), 1);

    let actions: Vec<String> = store
        .list_audit(mine.id, 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "link_template.saved")
            .count(),
        3
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "link_template.deleted")
            .count(),
        1,
        "a delete that found nothing is not audited"
    );
    assert!(
        store
            .list_audit(theirs.id, 50, None)
            .await
            .unwrap()
            .items
            .iter()
            .all(|e| !e.action.starts_with("link_template."))
    );
}

async fn link_template_overrides_feed_the_renderer(store: Store) {
    use chasqui_core::wame::{LinkContext, Locale, TemplateSource, render};
    use std::collections::BTreeMap;

    let (t, _, _) = store
        .create_tenant_with_key("Renders", Plan::Inicial, "test")
        .await
        .unwrap();
    let es = Locale::parse("es").unwrap();
    store
        .put_link_template(
            t.id,
            LinkContext::CustomerProfile,
            &es,
            "Hola {{customer_name}}, ¿todo bien?",
            "test",
        )
        .await
        .unwrap();
    let overrides = store.link_template_overrides(t.id).await.unwrap();
    assert_eq!(overrides.iter().count(), 1);
    let data = BTreeMap::from([("customer_name".to_owned(), "Ana".to_owned())]);
    let rendered = render(
        LinkContext::CustomerProfile,
        &Locale::parse("es-CL").unwrap(),
        &data,
        &overrides,
    )
    .unwrap();
    assert_eq!(rendered.text, "Hola Ana, ¿todo bien?");
    assert_eq!(rendered.source, TemplateSource::Override);
    assert_eq!(rendered.locale, es);

    // A row this version cannot use is skipped, and the shipped text applies.
    store
        .put_link_template(t.id, LinkContext::Generic, &es, "Hola {{number}}", "test")
        .await
        .unwrap();
    let overrides = store.link_template_overrides(t.id).await.unwrap();
    assert_eq!(overrides.iter().count(), 1, "the invalid text is ignored");
    assert!(overrides.get(LinkContext::Generic, &es).is_none());
}

fn events_keyring() -> Keyring {
    Keyring::new(vec![MasterKey::generate(KeyId::parse("k1").unwrap())]).unwrap()
}

async fn events_endpoint(
    store: &Store,
    keys: &Keyring,
    tenant: chasqui_core::ids::TenantId,
    types: &[&str],
    secret: &str,
) -> chasqui_store::events::WebhookEndpoint {
    store
        .create_webhook_endpoint(
            tenant,
            keys,
            chasqui_store::events::NewWebhookEndpoint {
                url: "https://hooks.example.com/in".into(),
                description: None,
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            },
            &Secret::new(secret),
            "test",
        )
        .await
        .unwrap()
}

async fn events_without_subscribers_are_written_at_commit_and_only_then(store: Store) {
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    // Rolled back: none of the buffered events exists.
    let mut tx = store.begin().await.unwrap();
    for n in 0..3 {
        tx.emit_event(t.id, "message.received", serde_json::json!({"n": n}))
            .await
            .unwrap();
    }
    tx.rollback().await.unwrap();
    assert!(
        store
            .list_events(t.id, None, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Committed: every one (more than one multi-row statement's worth), in emission order.
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..150 {
        ids.push(
            tx.emit_event(t.id, "message.received", serde_json::json!({"n": n}))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let listed = store
        .list_events(t.id, None, None, 200)
        .await
        .unwrap()
        .items;
    assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    for (n, e) in listed.iter().enumerate() {
        assert_eq!(e.data, serde_json::json!({"n": n}));
        assert_eq!(e.event_type, "message.received");
    }
}

async fn events_fan_out_to_subscribed_endpoints_in_the_emitting_transaction(store: Store) {
    use chasqui_store::events::{
        DELIVERY_JOB_KIND, DELIVERY_MAX_ATTEMPTS, DeliveryState, WebhookEndpointPatch,
    };
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (other, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();

    // No endpoints: the event is kept, nothing is scheduled.
    let quiet = store
        .emit_event(t.id, "message.received", serde_json::json!({"n": 0}))
        .await
        .unwrap();
    assert_eq!(
        store.event(t.id, quiet).await.unwrap().data,
        serde_json::json!({"n": 0})
    );
    assert!(
        store
            .claim_jobs("default", 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );

    let all = events_endpoint(&store, &keys, t.id, &[], "whsec_a").await;
    let status_only = events_endpoint(&store, &keys, t.id, &["message.status"], "whsec_b").await;
    let disabled = events_endpoint(&store, &keys, t.id, &["*"], "whsec_c").await;
    store
        .update_webhook_endpoint(
            t.id,
            disabled.id,
            WebhookEndpointPatch {
                enabled: Some(false),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let theirs = events_endpoint(&store, &keys, other.id, &[], "whsec_d").await;

    // A rolled-back change emits nothing.
    let mut tx = store.begin().await.unwrap();
    let ghost = tx
        .emit_event(t.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(matches!(
        store.event(t.id, ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .claim_jobs("default", 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );

    let mut tx = store.begin().await.unwrap();
    let id = tx
        .emit_event(
            t.id,
            "message.received",
            serde_json::json!({"message": {"id": "m1"}}),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let to_all = store
        .list_deliveries(t.id, all.id, None, 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(to_all.len(), 1);
    assert_eq!(to_all[0].event_id, id);
    assert_eq!(to_all[0].event_type, "message.received");
    assert_eq!(to_all[0].state, DeliveryState::Pending);
    assert_eq!(to_all[0].attempts, 0);
    assert!(
        store
            .list_deliveries(t.id, status_only.id, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .list_deliveries(t.id, disabled.id, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .list_deliveries(other.id, theirs.id, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Another tenant cannot read the delivery log through its own id.
    assert!(
        store
            .list_deliveries(other.id, all.id, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let jobs = store
        .claim_jobs("default", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, DELIVERY_JOB_KIND);
    assert_eq!(jobs[0].tenant, Some(t.id));
    assert_eq!(jobs[0].max_attempts, DELIVERY_MAX_ATTEMPTS);
    assert_eq!(jobs[0].payload["delivery_id"], to_all[0].id.to_string());
    assert_eq!(to_all[0].job_id, Some(jobs[0].id));

    // The status endpoint gets its type.
    store
        .emit_event(
            t.id,
            "message.status",
            serde_json::json!({"status": "read"}),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .list_deliveries(t.id, status_only.id, None, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_deliveries(t.id, all.id, None, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

async fn delivery_attempts_are_recorded_and_superseded_jobs_change_nothing(store: Store) {
    use chasqui_store::events::{AttemptRecord, DeliveryState};
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let ep = events_endpoint(&store, &keys, t.id, &[], "whsec_a").await;
    let event = store
        .emit_event(
            t.id,
            "contact.created",
            serde_json::json!({"contact": {"id": "con_1"}}),
        )
        .await
        .unwrap();
    let job = store
        .claim_jobs("default", 10, Duration::from_secs(60))
        .await
        .unwrap()
        .remove(0);
    let delivery = store
        .list_deliveries(t.id, ep.id, None, 10, None)
        .await
        .unwrap()
        .items
        .remove(0);

    let task = store
        .delivery_task(t.id, delivery.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.event.id, event);
    assert_eq!(task.event.event_type, "contact.created");
    assert_eq!(task.endpoint.id, ep.id);
    let (other, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    assert!(
        store
            .delivery_task(other.id, delivery.id)
            .await
            .unwrap()
            .is_none()
    );

    let next = chrono::Utc::now() + chrono::Duration::seconds(5);
    let failed = AttemptRecord {
        status_code: Some(503),
        error: Some("HTTP 503".into()),
        duration: Duration::from_millis(12),
        state: DeliveryState::Pending,
        next_attempt_at: Some(next),
        disable_if_failing_since: None,
    };
    let r = store
        .record_delivery_attempt(t.id, delivery.id, job.id, &failed)
        .await
        .unwrap();
    assert!(r.recorded && !r.endpoint_disabled);
    let d = store.delivery(t.id, ep.id, delivery.id).await.unwrap();
    assert_eq!(
        (d.state, d.attempts, d.last_status_code),
        (DeliveryState::Pending, 1, Some(503))
    );
    assert_eq!(
        d.next_attempt_at.map(|t| t.timestamp_millis()),
        Some(next.timestamp_millis())
    );
    assert!(
        store
            .webhook_endpoint(t.id, ep.id)
            .await
            .unwrap()
            .failing_since
            .is_some()
    );

    // A replay hands the delivery to a new job; the old one can no longer record anything.
    let replayed = store
        .replay_delivery(t.id, ep.id, delivery.id, "test")
        .await
        .unwrap();
    assert_ne!(replayed.job_id, Some(job.id));
    let stale = store
        .record_delivery_attempt(t.id, delivery.id, job.id, &failed)
        .await
        .unwrap();
    assert!(!stale.recorded);
    assert!(matches!(
        store
            .replay_delivery(other.id, ep.id, delivery.id, "test")
            .await,
        Err(StoreError::NotFound(_))
    ));

    let ok = AttemptRecord {
        status_code: Some(200),
        error: None,
        duration: Duration::from_millis(8),
        state: DeliveryState::Succeeded,
        next_attempt_at: None,
        disable_if_failing_since: None,
    };
    let new_job = replayed.job_id.unwrap();
    assert!(
        store
            .record_delivery_attempt(t.id, delivery.id, new_job, &ok)
            .await
            .unwrap()
            .recorded
    );
    // Once finished, nothing more is recorded, even by the responsible job.
    assert!(
        !store
            .record_delivery_attempt(t.id, delivery.id, new_job, &ok)
            .await
            .unwrap()
            .recorded
    );
    let d = store.delivery(t.id, ep.id, delivery.id).await.unwrap();
    assert_eq!(
        (d.state, d.attempts, d.last_status_code),
        (DeliveryState::Succeeded, 2, Some(200))
    );
    assert_eq!(d.last_error, None);
    let ep_now = store.webhook_endpoint(t.id, ep.id).await.unwrap();
    assert!(ep_now.failing_since.is_none() && ep_now.last_success_at.is_some());
    let attempts = store.delivery_attempts(t.id, delivery.id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        [(1, Some(503)), (2, Some(200))]
    );
    assert_eq!(attempts[0].duration_ms, 12);
    assert!(
        store
            .delivery_attempts(other.id, delivery.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_deliveries(t.id, ep.id, Some(DeliveryState::Succeeded), 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(
        store
            .list_deliveries(t.id, ep.id, Some(DeliveryState::Failed), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn sustained_failure_disables_an_endpoint_until_it_is_enabled(store: Store) {
    use chasqui_store::events::{AttemptRecord, DeliveryState, WebhookEndpointPatch};
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let ep = events_endpoint(&store, &keys, t.id, &[], "whsec_a").await;
    let final_failure = |threshold| AttemptRecord {
        status_code: None,
        error: Some("connection refused".into()),
        duration: Duration::from_millis(1),
        state: DeliveryState::Failed,
        next_attempt_at: None,
        disable_if_failing_since: Some(threshold),
    };

    // Failing, but not for long enough yet: stays enabled.
    store
        .emit_event(t.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    let d1 = store
        .list_deliveries(t.id, ep.id, None, 10, None)
        .await
        .unwrap()
        .items
        .remove(0);
    let long_ago = chrono::Utc::now() - chrono::Duration::days(5);
    let r = store
        .record_delivery_attempt(t.id, d1.id, d1.job_id.unwrap(), &final_failure(long_ago))
        .await
        .unwrap();
    assert!(r.recorded && !r.endpoint_disabled);
    assert!(store.webhook_endpoint(t.id, ep.id).await.unwrap().enabled());
    assert_eq!(
        store.delivery(t.id, ep.id, d1.id).await.unwrap().state,
        DeliveryState::Failed
    );

    // Failing since before the threshold: disabled, and then nothing more is scheduled.
    store
        .emit_event(t.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    let d2 = store
        .list_deliveries(t.id, ep.id, None, 10, Some(d1.id))
        .await
        .unwrap()
        .items
        .remove(0);
    let soon = chrono::Utc::now() + chrono::Duration::seconds(1);
    let r = store
        .record_delivery_attempt(t.id, d2.id, d2.job_id.unwrap(), &final_failure(soon))
        .await
        .unwrap();
    assert!(r.endpoint_disabled);
    let off = store.webhook_endpoint(t.id, ep.id).await.unwrap();
    assert!(!off.enabled());
    assert_eq!(
        off.disabled_reason.as_deref(),
        Some(chasqui_store::events::AUTO_DISABLED_REASON)
    );
    store
        .emit_event(t.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(
        store
            .list_deliveries(t.id, ep.id, None, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // Enabling clears the failure history; a delivery left pending meanwhile can be abandoned.
    let on = store
        .update_webhook_endpoint(
            t.id,
            ep.id,
            WebhookEndpointPatch {
                enabled: Some(true),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    assert!(on.enabled() && on.failing_since.is_none() && on.disabled_reason.is_none());
    store
        .emit_event(t.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    let d3 = store
        .list_deliveries(t.id, ep.id, None, 10, Some(d2.id))
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(
        store
            .abandon_delivery(t.id, d3.id, d3.job_id.unwrap(), "endpoint disabled")
            .await
            .unwrap()
    );
    let d3 = store.delivery(t.id, ep.id, d3.id).await.unwrap();
    assert_eq!(d3.state, DeliveryState::Failed);
    assert_eq!(d3.attempts, 0);
    assert_eq!(d3.last_error.as_deref(), Some("endpoint disabled"));
}

async fn endpoint_secrets_rotate_and_leave_with_their_endpoint(store: Store) {
    use chasqui_store::events::{WebhookEndpointPatch, secret_name};
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (other, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    let ep = events_endpoint(&store, &keys, t.id, &["message.status"], "whsec_one").await;
    let exposed = |v: Vec<Secret>| v.iter().map(|s| s.expose().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        exposed(store.webhook_signing_secrets(&keys, &ep).await.unwrap()),
        ["whsec_one"]
    );

    let later = chrono::Utc::now() + chrono::Duration::hours(24);
    let ep2 = store
        .rotate_webhook_endpoint_secret(
            t.id,
            ep.id,
            &keys,
            &Secret::new("whsec_two"),
            later,
            "test",
        )
        .await
        .unwrap();
    assert_eq!(
        exposed(store.webhook_signing_secrets(&keys, &ep2).await.unwrap()),
        ["whsec_two", "whsec_one"]
    );
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let ep3 = store
        .rotate_webhook_endpoint_secret(
            t.id,
            ep.id,
            &keys,
            &Secret::new("whsec_three"),
            past,
            "test",
        )
        .await
        .unwrap();
    assert_eq!(
        exposed(store.webhook_signing_secrets(&keys, &ep3).await.unwrap()),
        ["whsec_three"]
    );

    // Scoped to the tenant: another tenant's calls find nothing and change nothing.
    assert!(matches!(
        store.webhook_endpoint(other.id, ep.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_webhook_endpoint(
                other.id,
                ep.id,
                WebhookEndpointPatch {
                    enabled: Some(false),
                    ..Default::default()
                },
                "x"
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .rotate_webhook_endpoint_secret(
                other.id,
                ep.id,
                &keys,
                &Secret::new("whsec_x"),
                later,
                "x"
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_webhook_endpoint(other.id, ep.id, "x").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .list_webhook_endpoints(other.id, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        store
            .list_webhook_endpoints(t.id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let patched = store
        .update_webhook_endpoint(
            t.id,
            ep.id,
            WebhookEndpointPatch {
                url: Some("https://hooks.example.com/v2".into()),
                description: Some(Some("CRM".into())),
                event_types: Some(vec![]),
                enabled: None,
            },
            "test",
        )
        .await
        .unwrap();
    assert_eq!(patched.url, "https://hooks.example.com/v2");
    assert_eq!(patched.description.as_deref(), Some("CRM"));
    assert!(patched.event_types.is_empty() && patched.subscribes_to("channel.updated"));
    assert!(patched.enabled());

    store
        .emit_event(t.id, "message.status", serde_json::json!({}))
        .await
        .unwrap();
    let d = store
        .list_deliveries(t.id, ep.id, None, 10, None)
        .await
        .unwrap()
        .items
        .remove(0);
    store
        .delete_webhook_endpoint(t.id, ep.id, "test")
        .await
        .unwrap();
    assert!(matches!(
        store.webhook_endpoint(t.id, ep.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .credential(&keys, t.id, &secret_name(ep.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .credential(
                &keys,
                t.id,
                &chasqui_store::events::previous_secret_name(ep.id)
            )
            .await
            .unwrap()
            .is_none()
    );
    // Its deliveries went with it; their jobs then find nothing to do.
    assert!(store.delivery_task(t.id, d.id).await.unwrap().is_none());
}

async fn events_list_in_order_by_tenant_and_type(store: Store) {
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (other, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut ids = Vec::new();
    for (i, kind) in [
        "message.received",
        "message.status",
        "message.received",
        "contact.created",
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            store
                .emit_event(t.id, kind, serde_json::json!({"i": i}))
                .await
                .unwrap(),
        );
    }
    store
        .emit_event(other.id, "message.received", serde_json::json!({}))
        .await
        .unwrap();

    let page = store.list_events(t.id, None, None, 3).await.unwrap();
    assert_eq!(
        page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..3]
    );
    let cursor = page.next_cursor.unwrap().parse().unwrap();
    let rest = store
        .list_events(t.id, Some(cursor), None, 3)
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[3..]
    );
    assert!(rest.next_cursor.is_none());
    let received = store
        .list_events(t.id, None, Some("message.received"), 10)
        .await
        .unwrap();
    assert_eq!(
        received.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    assert_eq!(received.items[1].data, serde_json::json!({"i": 2}));
    let since = store.events_since(t.id, start, 100).await.unwrap();
    assert_eq!(since.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert!(
        store
            .events_since(t.id, chrono::Utc::now() + chrono::Duration::seconds(5), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.event(other.id, ids[0]).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Emits one `message.received` event; returns it with the delivery made for `endpoint`, if any.
async fn retention_event(
    store: &Store,
    tenant: chasqui_core::ids::TenantId,
    endpoint: Option<chasqui_core::ids::WebhookEndpointId>,
) -> (
    chasqui_core::ids::EventId,
    Option<chasqui_store::events::Delivery>,
) {
    let id = store
        .emit_event(tenant, "message.received", serde_json::json!({}))
        .await
        .unwrap();
    let delivery = match endpoint {
        None => None,
        Some(ep) => store
            .list_deliveries(tenant, ep, None, 100, None)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|d| d.event_id == id),
    };
    (id, delivery)
}

/// Records one attempt of `delivery` by its responsible job, leaving it in `state`.
async fn retention_attempt(
    store: &Store,
    delivery: &chasqui_store::events::Delivery,
    state: chasqui_store::events::DeliveryState,
) {
    use chasqui_store::events::{AttemptRecord, DeliveryState};
    let record = AttemptRecord {
        status_code: Some(if state == DeliveryState::Succeeded {
            200
        } else {
            503
        }),
        error: (state != DeliveryState::Succeeded).then(|| "HTTP 503".to_owned()),
        duration: Duration::from_millis(5),
        state,
        next_attempt_at: (state == DeliveryState::Pending)
            .then(|| chrono::Utc::now() + chrono::Duration::minutes(5)),
        disable_if_failing_since: None,
    };
    let job = delivery.job_id.unwrap();
    assert!(
        store
            .record_delivery_attempt(delivery.tenant_id, delivery.id, job, &record)
            .await
            .unwrap()
            .recorded
    );
}

/// Whether the event exists.
async fn event_kept(
    store: &Store,
    tenant: chasqui_core::ids::TenantId,
    id: chasqui_core::ids::EventId,
) -> bool {
    match store.event(tenant, id).await {
        Ok(_) => true,
        Err(StoreError::NotFound(_)) => false,
        Err(e) => panic!("{e}"),
    }
}

/// A moment strictly between what was recorded before and what is recorded after it.
async fn retention_cutoff() -> chrono::DateTime<chrono::Utc> {
    tokio::time::sleep(Duration::from_millis(15)).await;
    let cutoff = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(15)).await;
    cutoff
}

async fn retention_prunes_finished_events_in_batches_and_keeps_pending_ones(store: Store) {
    use chasqui_store::events::DeliveryState;
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (other, _, _) = store
        .create_tenant_with_key("B", Plan::Inicial, "test")
        .await
        .unwrap();
    // Before any endpoint: an event with no deliveries at all.
    let (quiet, _) = retention_event(&store, t.id, None).await;
    let ep = events_endpoint(&store, &keys, t.id, &[], "whsec_a")
        .await
        .id;
    let (delivered, d_delivered) = retention_event(&store, t.id, Some(ep)).await;
    let d_delivered = d_delivered.unwrap();
    retention_attempt(&store, &d_delivered, DeliveryState::Pending).await;
    retention_attempt(&store, &d_delivered, DeliveryState::Succeeded).await;
    let (given_up, d_given_up) = retention_event(&store, t.id, Some(ep)).await;
    retention_attempt(&store, d_given_up.as_ref().unwrap(), DeliveryState::Failed).await;
    let (scheduled, d_scheduled) = retention_event(&store, t.id, Some(ep)).await;
    let (retrying, d_retrying) = retention_event(&store, t.id, Some(ep)).await;
    let d_retrying = d_retrying.unwrap();
    retention_attempt(&store, &d_retrying, DeliveryState::Pending).await;
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(retention_event(&store, other.id, None).await.0);
    }
    let cutoff = retention_cutoff().await;
    let (recent, d_recent) = retention_event(&store, t.id, Some(ep)).await;
    retention_attempt(&store, d_recent.as_ref().unwrap(), DeliveryState::Succeeded).await;

    // Batches of 2: six events are due (quiet, delivered, given up and the other tenant's
    // three), so 2 + 2 + 2 and then a batch that finds nothing.
    let mut batches = Vec::new();
    loop {
        let n = store.prune_events(cutoff, 2).await.unwrap();
        batches.push(n);
        if n < 2 {
            break;
        }
    }
    assert_eq!(batches, [2, 2, 2, 0]);

    for gone in [quiet, delivered, given_up] {
        assert!(!event_kept(&store, t.id, gone).await, "{gone} was pruned");
    }
    for gone in &theirs {
        assert!(!event_kept(&store, other.id, *gone).await);
    }
    // Their deliveries and attempts went with them; a late job for one finds nothing to do.
    for d in [&d_delivered, d_given_up.as_ref().unwrap()] {
        assert!(matches!(
            store.delivery(t.id, ep, d.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(
            store
                .delivery_attempts(t.id, d.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.delivery_task(t.id, d.id).await.unwrap().is_none());
    }
    // Pending deliveries (never attempted, or waiting for a retry) keep their event whatever
    // its age, and newer events are kept whatever their deliveries.
    for kept in [scheduled, retrying, recent] {
        assert!(event_kept(&store, t.id, kept).await, "{kept} was kept");
    }
    let d_scheduled = d_scheduled.unwrap();
    assert_eq!(
        store
            .delivery(t.id, ep, d_scheduled.id)
            .await
            .unwrap()
            .state,
        DeliveryState::Pending
    );
    assert_eq!(
        store
            .delivery_attempts(t.id, d_retrying.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .delivery_task(t.id, d_retrying.id)
            .await
            .unwrap()
            .is_some()
    );

    // Once the retry succeeds the event goes in the next pass; the scheduled one stays.
    retention_attempt(&store, &d_retrying, DeliveryState::Succeeded).await;
    assert_eq!(store.prune_events(cutoff, 1000).await.unwrap(), 1);
    assert!(!event_kept(&store, t.id, retrying).await);
    assert!(event_kept(&store, t.id, scheduled).await);
    assert_eq!(store.prune_events(cutoff, 1000).await.unwrap(), 0);
    // A failed delivery that is replayed is pending again, so its event is kept.
    let (replayed, d_replayed) = retention_event(&store, t.id, Some(ep)).await;
    let d_replayed = d_replayed.unwrap();
    retention_attempt(&store, &d_replayed, DeliveryState::Failed).await;
    store
        .replay_delivery(t.id, ep, d_replayed.id, "test")
        .await
        .unwrap();
    let later = retention_cutoff().await;
    assert_eq!(store.prune_events(later, 1000).await.unwrap(), 1, "recent");
    assert!(event_kept(&store, t.id, replayed).await);
    assert!(event_kept(&store, t.id, scheduled).await);
    assert!(!event_kept(&store, t.id, recent).await);
    // The tenants and the endpoint are untouched.
    assert!(store.webhook_endpoint(t.id, ep).await.is_ok());
    assert_eq!(store.list_tenants(10, None).await.unwrap().items.len(), 2);
}

async fn listing_after_a_pruned_event_resumes_with_the_oldest_kept_one(store: Store) {
    let keys = events_keyring();
    let (t, _, _) = store
        .create_tenant_with_key("A", Plan::Inicial, "test")
        .await
        .unwrap();
    let (first, _) = retention_event(&store, t.id, None).await;
    let (second, _) = retention_event(&store, t.id, None).await;
    let ep = events_endpoint(&store, &keys, t.id, &["message.received"], "whsec_a")
        .await
        .id;
    // Older than the cutoff but still being delivered: kept.
    let (pending, _) = retention_event(&store, t.id, Some(ep)).await;
    // A type the endpoint does not take: no delivery.
    let third = store
        .emit_event(t.id, "contact.created", serde_json::json!({}))
        .await
        .unwrap();
    let cutoff = retention_cutoff().await;
    let (fresh, _) = retention_event(&store, t.id, None).await;
    assert_eq!(store.prune_events(cutoff, 1000).await.unwrap(), 3);

    // A client that last saw `second` (now pruned) resumes with the oldest event kept after
    // it, as the SSE stream does with `Last-Event-ID`: nothing kept is skipped or repeated.
    let ids = |page: chasqui_store::Page<chasqui_store::events::Event>| {
        page.items.iter().map(|e| e.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .list_events(t.id, Some(second), None, 10)
            .await
            .unwrap()),
        [pending, fresh]
    );
    assert_eq!(
        ids(store
            .list_events(t.id, Some(first), None, 10)
            .await
            .unwrap()),
        [pending, fresh]
    );
    assert_eq!(
        ids(store
            .list_events(t.id, Some(third), None, 10)
            .await
            .unwrap()),
        [fresh]
    );
    assert_eq!(
        ids(store.list_events(t.id, None, None, 10).await.unwrap()),
        [pending, fresh]
    );
}
