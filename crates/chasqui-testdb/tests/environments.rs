//! The harness's behaviour in other environments (no binaries, CI, failing binaries, a killed
//! test process), each checked in a child process: this test binary re-run with `probe` and
//! the environment under test, since the harness reads the environment once per process.

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set in a child to select what `probe` does.
const PROBE: &str = "CHASQUI_TESTDB_PROBE";

/// Not a test of its own: the body of the child processes the tests below start.
#[test]
fn probe() {
    let Ok(mode) = std::env::var(PROBE) else {
        return;
    };
    let db = chasqui_testdb::fresh_database_blocking();
    match (mode.as_str(), db) {
        ("expect-skip", None) => println!("PROBE: skipped"),
        ("hold", Some(db)) => {
            println!("PROBE: holding {}", db.url());
            std::thread::sleep(Duration::from_secs(120));
        }
        ("hold", None) => println!("PROBE: skipped"),
        (mode, db) => panic!("probe {mode} got {db:?}"),
    }
}

/// Runs `probe` in a child with `mode`, the given variables, and none of the inherited ones
/// that would change the outcome.
fn probe_command(mode: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command
        .args(["probe", "--exact", "--nocapture"])
        .env(PROBE, mode)
        .env_remove("TEST_DATABASE_URL")
        .env_remove("CI")
        .env_remove("CHASQUI_PG_BIN")
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    command
}

fn run_probe(mode: &str, vars: &[(&str, &str)]) -> (Output, String) {
    let output = probe_command(mode, vars).output().expect("run the probe");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "chasqui-testdb-scratch-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch dir");
        Self(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp dir")
    }

    /// Writes an executable shell script named `name` (readable by the `postgres` user too).
    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write a script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755))
            .expect("open the dir");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cluster directories a process with `pid` made (where the harness makes them).
fn cluster_dirs_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("chasqui-testdb-{pid}-");
    [std::env::temp_dir(), PathBuf::from("/tmp")]
        .iter()
        .filter_map(|parent| std::fs::read_dir(parent).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path())
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn without_binaries_the_tests_skip_loudly() {
    let empty = Scratch::new("empty");
    let (output, text) = run_probe("expect-skip", &[("CHASQUI_PG_BIN", empty.path())]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("PROBE: skipped"), "{text}");
    assert!(text.contains("SKIPPING PostgreSQL tests"), "{text}");
    assert!(
        text.contains(empty.path()),
        "the message names where it looked: {text}"
    );
    assert!(text.contains("SKIPPED (no PostgreSQL): probe"), "{text}");
}

#[test]
fn ci_false_still_skips() {
    let empty = Scratch::new("ci-false");
    let (output, text) = run_probe(
        "expect-skip",
        &[("CHASQUI_PG_BIN", empty.path()), ("CI", "false")],
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("PROBE: skipped"), "{text}");
}

#[test]
fn without_binaries_under_ci_the_tests_fail() {
    let empty = Scratch::new("ci");
    let (output, text) = run_probe(
        "expect-skip",
        &[("CHASQUI_PG_BIN", empty.path()), ("CI", "true")],
    );
    assert!(!output.status.success(), "{text}");
    assert!(!text.contains("PROBE: skipped"), "{text}");
    assert!(text.contains("CI is set"), "{text}");
    assert!(text.contains("TEST_DATABASE_URL is unset"), "{text}");
}

#[test]
fn a_failing_initdb_fails_with_its_stderr_and_leaves_nothing_behind() {
    let bin = Scratch::new("bad-initdb");
    bin.script("initdb", "echo 'initdb: fake disk on fire' >&2; exit 1");
    bin.script("pg_ctl", "exit 0");
    let child = probe_command("expect-skip", &[("CHASQUI_PG_BIN", bin.path())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the probe");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for the probe");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("initdb failed"), "{text}");
    assert!(text.contains("fake disk on fire"), "{text}");
    wait_until("the watchdog removed the cluster dir", || {
        cluster_dirs_of(pid).is_empty()
    });
}

#[test]
fn a_failing_pg_ctl_fails_with_its_stderr() {
    let bin = Scratch::new("bad-pg-ctl");
    bin.script("initdb", "exit 0");
    bin.script(
        "pg_ctl",
        r#"[ "$1" = start ] && { echo 'pg_ctl: fake port trouble' >&2; exit 1; }; exit 0"#,
    );
    let (output, text) = run_probe("expect-skip", &[("CHASQUI_PG_BIN", bin.path())]);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("pg_ctl start failed"), "{text}");
    assert!(text.contains("fake port trouble"), "{text}");
    assert!(
        text.contains("postgres.log"),
        "the log is part of the message: {text}"
    );
}

/// The cluster outlives nothing: killing the test process with SIGKILL, which runs no
/// destructor, still stops the server and deletes its directory.
#[test]
fn a_killed_test_process_leaves_no_server_behind() {
    // With TEST_DATABASE_URL, a machine need not have the binaries this test uses.
    let ci = match std::env::var_os("TEST_DATABASE_URL") {
        Some(_) => String::new(),
        None => std::env::var("CI").unwrap_or_default(),
    };
    let mut child = probe_command("hold", &[])
        .env("CI", ci)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the probe");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    // libtest prints `test probe ... ` first, on the same line.
    let verdict = loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("PROBE: ") => {
                break line
                    .split_once("PROBE: ")
                    .map(|(_, verdict)| verdict.to_owned())
                    .unwrap_or_default();
            }
            Some(Ok(_)) => {}
            other => {
                let status = child.wait().expect("wait");
                panic!("the probe ended without a verdict ({other:?}, {status})");
            }
        }
    };
    if verdict == "skipped" {
        child.wait().expect("wait for the probe");
        return;
    }
    let url = verdict
        .strip_prefix("holding ")
        .expect("a holding line")
        .to_owned();
    let port = server_port(&url);
    let dirs = cluster_dirs_of(pid);
    assert!(!dirs.is_empty(), "no cluster dir for process {pid}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "server up at {url}"
    );

    child.kill().expect("SIGKILL the probe");
    child.wait().expect("reap the probe");
    wait_until("the server stopped", || {
        TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    wait_until("the cluster dir was removed", || {
        dirs.iter().all(|dir| !Path::new(dir).exists())
    });
}

/// The port of a `postgres://user@127.0.0.1:PORT/db` URL.
fn server_port(url: &str) -> u16 {
    let after_host = url.rsplit_once(':').expect("a port").1;
    after_host
        .split('/')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}
