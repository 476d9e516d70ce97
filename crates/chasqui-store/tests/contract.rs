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

/// Declares one test per backend around an `async fn(Store)`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("t.db").display());
                let store = chasqui_store::Store::connect(&chasqui_store::ConnectOptions::new(url)).await.unwrap();
                super::$name(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = chasqui_testdb::fresh_database().await else { return };
                let store = chasqui_store::Store::connect(&chasqui_store::ConnectOptions::new(db.url())).await.unwrap();
                super::$name(store).await;
            }
        })*
    };
}

contract!(
    migrations_are_current,
    tenant_and_key_authenticate,
    revoked_and_unknown_keys_do_not_authenticate,
    keys_are_scoped_to_their_tenant,
    tenant_list_paginates,
    credentials_round_trip_and_rotate,
    job_in_rolled_back_transaction_never_runs,
    job_of_a_dead_worker_is_reclaimed_after_its_lease,
    two_workers_never_claim_the_same_job,
    failed_jobs_retry_then_die_and_can_be_replayed,
    worker_pool_runs_jobs_promptly_after_commit,
    instance_setting_latch_is_set_once,
    demo_tenant_is_created_once,
    tenant_rename_is_audited,
    link_templates_round_trip_and_are_tenant_scoped,
    link_template_overrides_feed_the_renderer,
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

async fn inbound_fixture(store: &Store) -> (chasqui_core::ids::TenantId, chasqui_core::ids::ChannelId) {
    let (t, _, _) = store.create_tenant_with_key("T", Plan::Inicial, "test").await.unwrap();
    let keys = Keyring::new(vec![MasterKey::generate(KeyId::parse("k1").unwrap())]).unwrap();
    let ch = store
        .create_channel(
            t.id,
            &keys,
            chasqui_store::channels::NewChannel {
                kind: chasqui_core::channel::ChannelKind::WhatsappCloud,
                name: "main".into(),
                phone_number_id: Some(format!("{}", rand_digits())),
                waba_id: Some("1".into()),
                display_phone_number: None,
                settings: serde_json::json!({}),
                secrets: vec![("access_token".into(), Secret::new("tok"))],
            },
            "test",
        )
        .await
        .unwrap();
    (t.id, ch.id)
}

fn rand_digits() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_000_000
}

fn identity(wa_id: Option<&str>, user_id: Option<&str>, keys: &[&str]) -> chasqui_store::inbound::ContactIdentity {
    chasqui_store::inbound::ContactIdentity {
        user_id: user_id.map(str::to_owned),
        wa_id: wa_id.map(str::to_owned),
        contact_key: keys.first().map(|k| (*k).to_owned()),
        lookup_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        username: None,
        profile_name: Some("Ana".into()),
    }
}

async fn contacts_match_across_number_variants_and_user_ids(store: Store) {
    let (t, _) = inbound_fixture(&store).await;
    let mut tx = store.begin().await.unwrap();
    let (a, created) = tx.upsert_contact(t, &identity(Some("5491123456789"), None, &["54:1123456789"])).await.unwrap();
    assert!(created);
    // The same person writing from the 54… form, with a user id now: same contact, user id learnt.
    let (b, created) = tx
        .upsert_contact(t, &identity(Some("541123456789"), Some("AR.1"), &["54:1123456789", "54:x"]))
        .await
        .unwrap();
    assert_eq!((a, created), (b, false));
    // Known by user id only (username user, no number): still the same contact.
    let (c, _) = tx.upsert_contact(t, &identity(None, Some("AR.1"), &[])).await.unwrap();
    assert_eq!(c, a);
    // A different person.
    let (d, created) = tx.upsert_contact(t, &identity(Some("5491199999999"), None, &["54:1199999999"])).await.unwrap();
    assert!(created && d != a);
    tx.commit().await.unwrap();
    let contact = store.contact(t, a).await.unwrap();
    assert_eq!(contact.user_id.as_deref(), Some("AR.1"));
    assert_eq!(contact.wa_id.as_deref(), Some("541123456789"));
    // Another tenant's contacts are separate.
    let (other, _) = inbound_fixture(&store).await;
    let mut tx = store.begin().await.unwrap();
    let (e, created) = tx.upsert_contact(other, &identity(Some("5491123456789"), None, &["54:1123456789"])).await.unwrap();
    tx.commit().await.unwrap();
    assert!(created && e != a);
    assert!(matches!(store.contact(other, a).await, Err(StoreError::NotFound(_))));
}

async fn store_inbound(store: &Store, t: chasqui_core::ids::TenantId, ch: chasqui_core::ids::ChannelId, wamid: &str) -> bool {
    let mut tx = store.begin().await.unwrap();
    let (contact, _) = tx.upsert_contact(t, &identity(Some("5491123456789"), None, &["54:1123456789"])).await.unwrap();
    let (conv, _) = tx.touch_conversation(t, ch, contact, 1_700_000_000_000, true, None).await.unwrap();
    let inserted = tx
        .insert_message(&chasqui_store::inbound::NewMessage {
            tenant: t,
            channel: ch,
            conversation: Some(conv),
            contact: Some(contact),
            direction: "in",
            provider_message_id: Some(wamid.to_owned()),
            kind: "text".into(),
            status: "received".into(),
            body_text: Some("hola".into()),
            content: serde_json::json!({"type": "text"}),
            context_message_id: None,
            provider_timestamp: Some(1_700_000_000_000),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    inserted.is_some()
}

async fn a_message_delivered_twenty_times_concurrently_is_stored_once(store: Store) {
    let (t, ch) = inbound_fixture(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { store_inbound(&s, t, ch, "wamid.SAME").await }));
    }
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.unwrap());
    }
    assert_eq!(inserted, 1);
    let msgs = store.list_messages(t, &Default::default(), 50, None).await.unwrap();
    assert_eq!(msgs.items.len(), 1);
    let convs = store.list_conversations(t, &Default::default(), 50, None).await.unwrap();
    assert_eq!(convs.items.len(), 1, "one open conversation per contact and channel");
    assert_eq!(store.list_contacts(t, &Default::default(), 50, None).await.unwrap().items.len(), 1);
}

async fn statuses_in_every_order_end_in_the_same_status_with_full_history(store: Store) {
    use chasqui_core::status::Status;
    let (t, ch) = inbound_fixture(&store).await;
    let orders: Vec<Vec<Status>> = vec![
        vec![Status::Sent, Status::Delivered, Status::Read],
        vec![Status::Read, Status::Delivered, Status::Sent],
        vec![Status::Delivered, Status::Read, Status::Sent, Status::Read],
        vec![Status::Sent, Status::Failed, Status::Delivered],
    ];
    for (i, order) in orders.iter().enumerate() {
        let wamid = format!("wamid.OUT{i}");
        // Half of the cases: statuses arrive before the message row exists.
        let early = i % 2 == 1;
        if !early {
            insert_outbound(&store, t, ch, &wamid).await;
        }
        for st in order {
            let mut tx = store.begin().await.unwrap();
            let payload = serde_json::json!({"status": st.as_str()});
            let error = (*st == Status::Failed).then(|| ("131026".to_owned(), "Message undeliverable".to_owned()));
            tx.record_status(&chasqui_store::inbound::StatusRecord {
                tenant: t,
                channel: ch,
                provider_message_id: &wamid,
                status: *st,
                occurred_at_ms: 1_700_000_000_000 + st.rank() as i64,
                payload: &payload,
                error,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        if early {
            insert_outbound(&store, t, ch, &wamid).await;
            let mut tx = store.begin().await.unwrap();
            tx.apply_recorded_statuses(t, ch, &wamid).await.unwrap();
            tx.commit().await.unwrap();
        }
        let f = chasqui_store::messages::MessageFilter { provider_message_id: Some(wamid.clone()), ..Default::default() };
        let m = store.list_messages(t, &f, 1, None).await.unwrap().items.remove(0);
        let expected = chasqui_core::status::merge_all(order.iter().copied()).unwrap();
        assert_eq!(m.status, expected.as_str(), "order {order:?}");
        let history = store.message_history(t, &m).await.unwrap();
        let distinct: HashSet<_> = order.iter().map(|s| s.as_str()).collect();
        assert_eq!(history.len(), distinct.len(), "one history row per distinct status");
    }
}

async fn insert_outbound(store: &Store, t: chasqui_core::ids::TenantId, ch: chasqui_core::ids::ChannelId, wamid: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_message(&chasqui_store::inbound::NewMessage {
        tenant: t,
        channel: ch,
        conversation: None,
        contact: None,
        direction: "out",
        provider_message_id: Some(wamid.to_owned()),
        kind: "text".into(),
        status: "queued".into(),
        body_text: Some("hi".into()),
        content: serde_json::json!({}),
        context_message_id: None,
        provider_timestamp: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn receipts_are_durable_and_requeued_when_their_channel_appears(store: Store) {
    use chasqui_store::receipts::{NewReceipt, PROCESS_RECEIPT, state};
    let id = store
        .store_receipt(NewReceipt {
            provider: "whatsapp".into(),
            channel_id: None,
            tenant_id: None,
            body: b"{\"object\":\"whatsapp_business_account\"}".to_vec(),
            headers: serde_json::json!({"content-type": "application/json"}),
        })
        .await
        .unwrap();
    // The receipt and its processing job were committed together.
    let jobs = store.claim_jobs("default", 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, PROCESS_RECEIPT);
    assert_eq!(jobs[0].payload["receipt_id"], id.to_string());
    store.complete_job(&jobs[0]).await.unwrap();
    let r = store.receipt(id).await.unwrap();
    assert_eq!(r.body, b"{\"object\":\"whatsapp_business_account\"}");
    store.mark_receipt(id, state::UNROUTED, None, Some("phone_number_id:42"), None).await.unwrap();
    assert_eq!(store.list_receipts(state::UNROUTED, 10, None).await.unwrap().items.len(), 1);
    assert_eq!(store.requeue_unrouted("phone_number_id:41").await.unwrap(), 0);
    assert_eq!(store.requeue_unrouted("phone_number_id:42").await.unwrap(), 1);
    assert_eq!(store.receipt(id).await.unwrap().state, state::PENDING);
    assert_eq!(store.claim_jobs("default", 10, Duration::from_secs(60)).await.unwrap().len(), 1);
}
