//! The `chasqui` binary as an operator uses it: real processes, a temporary data directory.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn chasqui(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chasqui"));
    c.env_clear()
        .env("CHASQUI_DATA_DIR", data)
        .env("CHASQUI_LOG", "warn");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "a command panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(cmd: &mut Command) -> String {
    fails_with(cmd, 1)
}

fn fails_with(cmd: &mut Command, code: i32) -> String {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit code 1; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn tenants_and_keys_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created: serde_json::Value = serde_json::from_str(&ok(chasqui(dir.path()).args([
        "tenant",
        "create",
        "Taller Norte",
        "--plan",
        "PROFESIONAL",
        "--json",
    ])))
    .unwrap();
    let tenant = created["tenant_id"].as_str().unwrap().to_owned();
    let first_key = created["api_key"].as_str().unwrap().to_owned();
    assert!(tenant.starts_with("ten_"));
    assert!(first_key.starts_with("chq_live_"));
    assert_eq!(created.as_object().unwrap().len(), 2);

    let list = ok(chasqui(dir.path()).args(["tenant", "list"]));
    assert!(
        list.contains(&tenant) && list.contains("PROFESIONAL") && list.contains("Taller Norte"),
        "{list}"
    );
    let json_list = ok(chasqui(dir.path()).args(["tenant", "list", "--json"]));
    let row: serde_json::Value = serde_json::from_str(json_list.lines().next().unwrap()).unwrap();
    assert_eq!(row["plan"], "PROFESIONAL");

    let second =
        ok(chasqui(dir.path()).args(["key", "create", "--tenant", &tenant, "--label", "ci"]));
    assert!(second.trim().starts_with("chq_live_") && second.trim() != first_key);
    let revoked = ok(chasqui(dir.path()).args(["key", "revoke", &first_key[..17]]));
    assert!(revoked.contains("revoked"), "{revoked}");
    let keys = ok(chasqui(dir.path()).args(["key", "list", "--tenant", &tenant]));
    assert_eq!(
        keys.lines().filter(|l| l.contains("revoked")).count(),
        1,
        "{keys}"
    );
    assert_eq!(
        keys.lines().filter(|l| l.contains("active")).count(),
        1,
        "{keys}"
    );
    // Keys are never printed again.
    assert!(!keys.contains(&first_key[18..]));

    // A usage error (clap's exit code 2) that lists the valid plans.
    let err = fails_with(
        chasqui(dir.path()).args(["tenant", "create", "X", "--plan", "GOLD"]),
        2,
    );
    assert!(err.contains("GOLD") && err.contains("PROFESIONAL"), "{err}");
    let err = fails(chasqui(dir.path()).args(["key", "revoke", "chq_live_nothere"]));
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn config_commands_print_defaults_and_redact_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = ok(chasqui(dir.path()).args(["config", "default"]));
    assert!(
        defaults.contains("[server]") && defaults.contains("WHATSAPP_RETRY_ATTEMPTS"),
        "{defaults}"
    );
    let checked = ok(chasqui(dir.path())
        .args(["config", "check"])
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal:5432/chasqui",
        )
        .env(
            "CHASQUI_MASTER_KEY",
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("WHATSAPP_RETRY_ATTEMPTS", "5"));
    assert!(!checked.contains("hunter2"), "{checked}");
    assert!(!checked.contains("AAAAAAAA"), "{checked}");
    assert!(checked.contains("app:***@db.internal"), "{checked}");
    assert!(checked.contains("retry_attempts = 5"), "{checked}");
}

#[test]
fn bad_configuration_and_unreachable_database_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(
        chasqui(dir.path())
            .args(["serve"])
            .env("CHASQUI_LISTEN", "abc"),
    );
    assert!(err.contains("CHASQUI_LISTEN"), "{err}");
    let err = fails(
        chasqui(dir.path())
            .args(["tenant", "list"])
            .env("WHATSAPP_TIMEOUT_MS", "soon"),
    );
    assert!(err.contains("WHATSAPP_TIMEOUT_MS"), "{err}");
    let file = dir.path().join("chasqui.toml");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:9000\"\nlisen = 1\n").unwrap();
    let err = fails(
        chasqui(dir.path())
            .args(["config", "check", "--config"])
            .arg(&file),
    );
    assert!(err.contains("lisen"), "{err}");
    let err = fails(chasqui(dir.path()).args(["tenant", "list", "--database-url", "mysql://x/y"]));
    assert!(err.contains("mysql"), "{err}");
    let err = fails(chasqui(dir.path()).args([
        "tenant",
        "list",
        "--database-url",
        "postgres://u:topsecret@127.0.0.1:1/x",
    ]));
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(!err.contains("topsecret"), "{err}");
}

#[test]
fn first_start_prints_the_demo_key_once_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_and_stop(dir.path());
    assert!(first.contains("demo tenant"), "{first}");
    let key = first
        .split_whitespace()
        .find(|w| w.starts_with("chq_live_"))
        .unwrap();
    assert!(first.contains("/v1/tenant"));
    let second = start_and_stop(dir.path());
    assert!(
        !second.contains("chq_live_"),
        "secrets printed on a later start: {second}"
    );
    // The key printed on the first start is valid (checked against the stored hash).
    let list = ok(chasqui(dir.path()).args(["tenant", "list"]));
    assert!(list.contains("Demo"));
    assert_eq!(key.len(), 50);
}

/// Starts `serve` on a free port, waits until it answers, sends SIGTERM, returns its stdout.
fn start_and_stop(data: &Path) -> String {
    let mut child = chasqui(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CHASQUI_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log line "Chasqui is listening" on stderr tells us it is up.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server did not start");
        if line.contains("Chasqui is listening") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "serve did not exit cleanly on SIGTERM: {:?}",
        out.status
    );
    // The reader thread ends when the process closes stderr, which ends this iteration.
    let logs: Vec<String> = rx.iter().collect();
    assert!(logs.iter().any(|l| l.contains("shutting down")), "{logs:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn key_rotation_reencrypts_stored_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // Store a credential as the server would, under the key file's first key.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite:{}", dir.path().join("chasqui.db").display());
    let tenant = rt.block_on(async {
        let overrides = chasqui::config::CliOverrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let (config, _) = chasqui::config::Config::load(&overrides, &Default::default()).unwrap();
        let (keys, _) = chasqui::master_key::MasterKeys::load(&config).unwrap();
        let store = chasqui_store::Store::connect(&chasqui_store::ConnectOptions::new(url.clone()))
            .await
            .unwrap();
        let (t, _, _) = store
            .create_tenant_with_key("T", chasqui_core::plan::Plan::Inicial, "test")
            .await
            .unwrap();
        store
            .put_credential(
                &keys.current(),
                t.id,
                "channel:x:access_token",
                &chasqui_core::secrets::Secret::new("EAAG"),
            )
            .await
            .unwrap();
        store.close().await;
        t.id
    });
    let before = ok(chasqui(dir.path()).args(["keys", "status"]));
    assert!(
        before.contains("k1  primary") && before.contains("1 credential"),
        "{before}"
    );
    let rotated = ok(chasqui(dir.path()).args(["keys", "rotate"]));
    assert!(
        rotated.contains("re-encrypted 1 credential(s) under key `k2`"),
        "{rotated}"
    );
    let err = fails(chasqui(dir.path()).args(["keys", "retire", "k2"]));
    assert!(
        err.contains("primary") || err.contains("still protects"),
        "{err}"
    );
    ok(chasqui(dir.path()).args(["keys", "retire", "k1"]));
    let after = ok(chasqui(dir.path()).args(["keys", "status"]));
    assert!(
        after.contains("k2  primary") && !after.contains("k1"),
        "{after}"
    );
    // Still readable with what is now in the key file.
    rt.block_on(async {
        let overrides = chasqui::config::CliOverrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let (config, _) = chasqui::config::Config::load(&overrides, &Default::default()).unwrap();
        let (keys, _) = chasqui::master_key::MasterKeys::load(&config).unwrap();
        let store = chasqui_store::Store::connect(&chasqui_store::ConnectOptions::new(url))
            .await
            .unwrap();
        let got = store
            .credential(&keys.current(), tenant, "channel:x:access_token")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.expose(), "EAAG");
    });
}

/// A `chasqui serve` process on a free port, its address read from its JSON log.
struct Server {
    child: std::process::Child,
    addr: String,
    stdout: String,
}

impl Server {
    fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = chasqui(data);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("CHASQUI_LOG", "info")
            .env("CHASQUI_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("server did not start");
            if line.contains("Chasqui is listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                break v["address"].as_str().unwrap().to_owned();
            }
        };
        // The demo banner (first start only) is printed before the listening line; read it
        // without blocking on later starts, which print nothing.
        let out = child.stdout.take().unwrap();
        let (otx, orx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = otx.send(line);
            }
        });
        let mut stdout = String::new();
        while let Ok(line) = orx.recv_timeout(Duration::from_millis(300)) {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Server {
            child,
            addr,
            stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn kill_9(mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn a_webhook_acknowledged_just_before_kill_9_is_processed_after_restart() {
    use hmac::{Hmac, Mac};
    let dir = tempfile::tempdir().unwrap();
    let secret = "app-secret";
    let env = [
        ("CHASQUI_META_APP_SECRET", secret),
        ("CHASQUI_WORKERS_ENABLED", "false"),
    ];
    let server = Server::start(dir.path(), &env);
    let key = server
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("chq_live_"))
        .expect("demo key")
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    rt.block_on(async {
        let res = client
            .post(server.url("/v1/channels"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"kind": "whatsapp_cloud", "phone_number_id": "777", "access_token": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body = serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": "777"},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491123456789"}],
                "messages": [{"from": "5491123456789", "id": "wamid.KILL9", "timestamp": "1763800000", "type": "text", "text": {"body": "¿llegó?"}}]
            }}]}]
        }))
        .unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&body);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let res = client.post(server.url("/webhooks/whatsapp")).header("x-hub-signature-256", sig).body(body).send().await.unwrap();
        assert_eq!(res.status(), 200);
    });
    // The process dies without any chance to clean up, right after answering.
    server.kill_9();
    let server = Server::start(
        dir.path(),
        &[
            ("CHASQUI_META_APP_SECRET", secret),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    );
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let res = client
                .get(server.url("/v1/messages"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            if body["data"].as_array().is_some_and(|d| !d.is_empty()) {
                assert_eq!(body["data"][0]["text"], "¿llegó?");
                assert_eq!(body["data"].as_array().unwrap().len(), 1);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the acknowledged webhook never became a message"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    server.stop();
}

#[test]
fn channels_receipts_and_replay_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let created: serde_json::Value = serde_json::from_str(&ok(
        chasqui(dir.path()).args(["tenant", "create", "T", "--json"])
    ))
    .unwrap();
    let tenant = created["tenant_id"].as_str().unwrap().to_owned();
    let out = ok(chasqui(dir.path())
        .args([
            "channel",
            "add",
            "--tenant",
            &tenant,
            "--kind",
            "whatsapp_cloud",
            "--phone-number-id",
            "12345",
            "--json",
        ])
        .args([
            "--secret",
            "access_token=@TOKEN_FROM_ENV",
            "--settings",
            r#"{"graph_version": "v23.0"}"#,
        ])
        .env("TOKEN_FROM_ENV", "EAAG-cli"));
    let ch: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(ch["channel_id"].as_str().unwrap().starts_with("chn_"));
    assert_eq!(ch["secrets"], serde_json::json!(["access_token"]));
    let list = ok(chasqui(dir.path()).args(["channel", "list", "--tenant", &tenant]));
    assert!(
        list.contains("whatsapp_cloud") && list.contains("active"),
        "{list}"
    );
    let err = fails(chasqui(dir.path()).args([
        "channel",
        "add",
        "--tenant",
        &tenant,
        "--kind",
        "whatsapp_cloud",
    ]));
    assert!(err.contains("--phone-number-id"), "{err}");
    let err = fails_with(
        chasqui(dir.path()).args(["channel", "add", "--tenant", &tenant, "--kind", "telegram"]),
        2,
    );
    assert!(err.contains("telegram"), "{err}");
    assert_eq!(
        ok(chasqui(dir.path()).args(["receipts", "list", "--unrouted"])),
        ""
    );
    let err = fails(chasqui(dir.path()).args(["replay", "rcp_0194f3a0c0e67a6fb0b6a0e0a0e0a0e0"]));
    assert!(err.contains("not found"), "{err}");
}
