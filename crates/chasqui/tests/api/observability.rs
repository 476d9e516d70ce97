use reqwest::Method;

use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_requests_by_matched_route_and_show_queue_and_process() {
    let app = spawn_app().await;
    app.authed(Method::GET, "/v1/tenant").send().await.unwrap();
    app.get("/v1/tenant").send().await.unwrap();
    app.store
        .enqueue(
            chasqui_store::jobs::NewJob::new("never_handled", serde_json::json!({}))
                .run_at(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .await
        .unwrap();
    let res = app.get("/metrics").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            r#"chasqui_http_requests_total{method="GET",route="/v1/tenant",status="200"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"chasqui_http_requests_total{method="GET",route="/v1/tenant",status="401"}"#
        )
    );
    assert!(text.contains("chasqui_http_request_duration_seconds_bucket"));
    assert!(
        text.contains(r#"chasqui_jobs{queue="default",state="ready"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("process_resident_memory_bytes"),
        "process metrics missing"
    );
    // Ids in paths never become labels.
    app.get("/v1/api-keys?limit=1").send().await.unwrap();
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("route=\"/v1/api-keys?"), "{text}");
    app.shutdown().await.unwrap();
}
