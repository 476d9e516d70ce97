//! Shared by the contract test files: run one `async fn(Store)` against every backend.

/// Declares one test per backend around an `async fn(Store)`.
#[macro_export]
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

/// A new tenant named `name` (its first API key is discarded).
#[allow(dead_code)] // not every test file creates tenants
pub async fn tenant(store: &chasqui_store::Store, name: &str) -> chasqui_core::ids::TenantId {
    store
        .create_tenant_with_key(name, chasqui_core::plan::Plan::Inicial, "test")
        .await
        .unwrap()
        .0
        .id
}

/// A WhatsApp Cloud channel of `tenant` with phone number id `pnid` (also its name).
#[allow(dead_code)] // not every test file creates channels
pub async fn channel(
    store: &chasqui_store::Store,
    tenant: chasqui_core::ids::TenantId,
    pnid: &str,
) -> chasqui_core::ids::ChannelId {
    use chasqui_core::secrets::{KeyId, Keyring, MasterKey, Secret};
    let keys = Keyring::new(vec![MasterKey::generate(KeyId::parse("k1").unwrap())]).unwrap();
    store
        .create_channel(
            tenant,
            &keys,
            chasqui_store::channels::NewChannel {
                kind: chasqui_core::channel::ChannelKind::WhatsappCloud,
                name: pnid.into(),
                phone_number_id: Some(pnid.to_owned()),
                waba_id: Some("1".into()),
                display_phone_number: None,
                settings: serde_json::json!({}),
                secrets: vec![("access_token".into(), Secret::new("tok"))],
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

/// A new tenant with one WhatsApp Cloud channel (`pnid`).
#[allow(dead_code)] // not every test file creates channels
pub async fn tenant_with_channel(
    store: &chasqui_store::Store,
    pnid: &str,
) -> (chasqui_core::ids::TenantId, chasqui_core::ids::ChannelId) {
    let t = tenant(store, "T").await;
    (t, channel(store, t, pnid).await)
}
