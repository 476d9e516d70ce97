//! The throwaway cluster: `initdb` into a fresh temporary directory, `pg_ctl start` on a free
//! loopback port, and a watchdog process that stops it and deletes the directory once the test
//! process is gone.
//!
//! Everything here is synchronous `std::process`, so the one-time start does not depend on any
//! test's tokio runtime staying alive.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::DirBuilderExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The superuser `initdb -U` creates, and the user in every URL of a throwaway cluster.
pub(crate) const SUPERUSER: &str = "postgres";

/// How many ports to try when another process takes the free port before the server binds it.
const START_ATTEMPTS: u32 = 5;

/// Server settings that trade durability, irrelevant for a throwaway cluster, for speed.
const SERVER_SETTINGS: [&str; 5] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "listen_addresses=127.0.0.1",
];

/// Stops the cluster and removes its directory once its standard input reaches end of file,
/// which happens when the test process exits, however it exits: the process holds the only
/// write end of that pipe. Arguments: the cluster directory, `pg_ctl`, and `root` when the
/// server runs as the `postgres` user.
const WATCHDOG_SCRIPT: &str = r#"
trap '' HUP INT
while read -r _; do :; done
for attempt in 1 2 3; do
    if [ "$3" = root ]; then
        runuser -u postgres -- "$2" stop -D "$1/data" -m immediate -w -t 30 >/dev/null 2>&1
    else
        "$2" stop -D "$1/data" -m immediate -w -t 30 >/dev/null 2>&1
    fi
    [ -e "$1/data/postmaster.pid" ] || break
    sleep 1
done
rm -rf -- "$1"
"#;

/// A running throwaway cluster. Never dropped (it lives in a static); the watchdog cleans up.
#[derive(Debug)]
pub(crate) struct Cluster {
    port: u16,
    dir: PathBuf,
    started_in: std::time::Duration,
    /// Holds the write end of the watchdog's standard input open for the life of the process.
    _watchdog: Child,
}

impl Cluster {
    /// Starts a cluster with the binaries in `bin_dir`. The error says what failed and carries
    /// the failing command's output and the server log.
    pub(crate) fn start(bin_dir: &Path) -> Result<Self, String> {
        let began = Instant::now();
        let run_as = RunAs::detect()?;
        let dir = make_cluster_dir(&run_as)?;
        let pg_ctl = bin_dir.join("pg_ctl");
        // The watchdog comes first so that even a failed start leaves nothing behind.
        let watchdog = spawn_watchdog(&dir, &pg_ctl, &run_as)?;

        let data = dir.join("data");
        let initdb = run(run_as
            .command(&bin_dir.join("initdb"), &dir)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync"));
        if let Err(failure) = initdb {
            return Err(format!(
                "chasqui-testdb: initdb failed in {}\n{failure}",
                dir.display()
            ));
        }

        let log = dir.join("postgres.log");
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let mut options = format!("-p {port} -k {}", shell_quote(&dir.to_string_lossy()));
            for setting in SERVER_SETTINGS {
                let _ = write!(options, " -c {setting}");
            }
            let started = run(run_as
                .command(&pg_ctl, &dir)
                .arg("start")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(&options)
                // Keep the server out of the terminal's process group, so that Ctrl-C on a
                // test run reaches the watchdog's cleanup rather than the server.
                .process_group(0));
            match started {
                Ok(_) => {
                    return Ok(Self {
                        port,
                        dir,
                        started_in: began.elapsed(),
                        _watchdog: watchdog,
                    });
                }
                Err(failure) => {
                    let log_text = fs::read_to_string(&log).unwrap_or_else(|error| {
                        format!("(cannot read {}: {error})", log.display())
                    });
                    last_failure = format!("{failure}\n--- {} ---\n{log_text}", log.display());
                    if !log_text.contains("already in use") {
                        break;
                    }
                }
            }
        }
        Err(format!(
            "chasqui-testdb: pg_ctl start failed in {}\n{last_failure}",
            dir.display()
        ))
    }

    /// The superuser's URL for the `postgres` database, where `CREATE DATABASE` runs.
    pub(crate) fn admin_url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The temporary directory holding the data directory, socket and log.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long `initdb` plus `pg_ctl start` took.
    pub(crate) fn started_in(&self) -> std::time::Duration {
        self.started_in
    }
}

/// Who runs the PostgreSQL binaries: `initdb` refuses to run as root, so root hands them to
/// the `postgres` user.
#[derive(Debug)]
enum RunAs {
    CurrentUser,
    Postgres { uid: u32, gid: u32 },
}

impl RunAs {
    fn detect() -> Result<Self, String> {
        let uid = id(&["-u"])?;
        if uid != 0 {
            return Ok(Self::CurrentUser);
        }
        let no_user = |error: String| {
            format!(
                "chasqui-testdb: running as root, where initdb refuses to run, and there is no \
                 usable `postgres` user to run it as ({error}). Create one \
                 (`useradd --system postgres`), run the tests as another user, or set \
                 TEST_DATABASE_URL."
            )
        };
        let uid = id(&["-u", SUPERUSER]).map_err(no_user)?;
        let gid = id(&["-g", SUPERUSER]).map_err(no_user)?;
        Ok(Self::Postgres { uid, gid })
    }

    /// A command running `program` as this user, in `dir` (which that user can enter, unlike
    /// perhaps the test's working directory), with nothing on its standard input.
    fn command(&self, program: &Path, dir: &Path) -> Command {
        let mut command = match self {
            Self::CurrentUser => Command::new(program),
            Self::Postgres { .. } => {
                let mut command = Command::new("runuser");
                command.args(["-u", SUPERUSER, "--"]).arg(program);
                command
            }
        };
        command.current_dir(dir).stdin(Stdio::null());
        command
    }
}

/// Runs `id ARGS` and parses the number it prints.
fn id(args: &[&str]) -> Result<u32, String> {
    let mut command = Command::new("id");
    command.args(args);
    let output = run(&mut command)?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .map_err(|error| format!("`id {}` printed {text:?}: {error}", args.join(" ")))
}

/// Creates `chasqui-testdb-<pid>-<nanos>` in the temporary directory, owned by whoever runs the
/// server.
fn make_cluster_dir(run_as: &RunAs) -> Result<PathBuf, String> {
    let mut parent = std::env::temp_dir();
    if matches!(run_as, RunAs::Postgres { .. }) && !others_can_traverse(&parent) {
        // `postgres` could not reach a directory under, say, a TMPDIR inside /root.
        parent = PathBuf::from("/tmp");
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let dir = parent.join(format!("chasqui-testdb-{}-{nanos:09}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|error| format!("chasqui-testdb: cannot create {}: {error}", dir.display()))?;
    if let RunAs::Postgres { uid, gid } = run_as {
        std::os::unix::fs::chown(&dir, Some(*uid), Some(*gid)).map_err(|error| {
            format!(
                "chasqui-testdb: cannot give {} to the postgres user: {error}",
                dir.display()
            )
        })?;
    }
    Ok(dir)
}

/// Whether users other than the owner can traverse `dir` and every directory above it.
fn others_can_traverse(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    dir.ancestors().all(|ancestor| {
        fs::metadata(ancestor).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0)
    })
}

/// Starts the watchdog in its own process group (so Ctrl-C aimed at the test run does not kill
/// it), with a pipe on its standard input whose write end only this process holds.
fn spawn_watchdog(dir: &Path, pg_ctl: &Path, run_as: &RunAs) -> Result<Child, String> {
    let mode = match run_as {
        RunAs::CurrentUser => "user",
        RunAs::Postgres { .. } => "root",
    };
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("chasqui-testdb-watchdog")
        .arg(dir)
        .arg(pg_ctl)
        .arg(mode)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|error| format!("chasqui-testdb: cannot start the cleanup watchdog: {error}"))
}

/// A free TCP port on 127.0.0.1 (free a moment ago: the start retries if another process
/// takes it first).
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|error| format!("chasqui-testdb: cannot find a free port: {error}"))
}

/// Runs a command to completion; an error describes the command and carries its output.
fn run(command: &mut Command) -> Result<Output, String> {
    let described = format!("{command:?}");
    let output = command
        .output()
        .map_err(|error: io::Error| format!("cannot run {described}: {error}"))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(format!(
        "{described} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end(),
    ))
}

/// Quotes `text` for the shell through which `pg_ctl -o` passes its options.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }

    #[test]
    fn tmp_is_traversable() {
        assert!(others_can_traverse(Path::new("/tmp")));
    }

    #[test]
    fn failures_carry_the_output() {
        let failure = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .expect_err("exit 3 fails");
        assert!(failure.contains("exit status: 3"), "{failure}");
        assert!(failure.contains("out"), "{failure}");
        assert!(failure.contains("err"), "{failure}");
    }
}
