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
