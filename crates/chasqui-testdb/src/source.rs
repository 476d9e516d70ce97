//! Where the test databases come from: an existing server, a throwaway cluster, or nowhere.
//!
//! The decision is a pure function of the environment ([`decide`]) so that the rules, and in
//! particular "missing PostgreSQL is a failure under CI", are tested without touching the
//! process environment.

use std::env;
use std::path::{Path, PathBuf};

/// The binaries directory this harness prefers.
pub(crate) const PREFERRED_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// Where the Debian/Ubuntu packages put each major version's binaries.
const DEBIAN_VERSIONS_DIR: &str = "/usr/lib/postgresql";

/// The binaries a throwaway cluster needs.
const REQUIRED_BINARIES: [&str; 2] = ["initdb", "pg_ctl"];

/// The inputs of [`decide`], read from the process environment by [`Inputs::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inputs {
    /// `TEST_DATABASE_URL`, if set and non-empty.
    pub(crate) test_database_url: Option<String>,
    /// Whether `CI` asks for missing PostgreSQL to be a failure.
    pub(crate) ci: bool,
    /// The PostgreSQL binaries directory found, or the places searched in vain.
    pub(crate) binaries: Result<PathBuf, Vec<String>>,
}

impl Inputs {
    /// Reads `TEST_DATABASE_URL`, `CI` and `CHASQUI_PG_BIN`, and searches for the binaries only
    /// when `TEST_DATABASE_URL` does not make them unnecessary.
    pub(crate) fn from_env() -> Self {
        let test_database_url = env::var("TEST_DATABASE_URL")
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        let ci = is_ci(env::var("CI").ok().as_deref());
        let binaries = if test_database_url.is_some() {
            Err(Vec::new())
        } else {
            let bin_override = env::var_os("CHASQUI_PG_BIN")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from);
            find_binaries(bin_override.as_deref())
        };
        Self {
            test_database_url,
            ci,
            binaries,
        }
    }
}

/// What the harness does for this test process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Create the test databases on the server `TEST_DATABASE_URL` names.
    External {
        /// The URL as given (its database is where `CREATE DATABASE` runs).
        admin_url: String,
    },
    /// Start a throwaway cluster with the binaries in this directory.
    Local {
        /// Holds `initdb` and `pg_ctl`.
        bin_dir: PathBuf,
    },
    /// No PostgreSQL is available: the PostgreSQL tests skip, saying this loudly.
    Skip {
        /// The explanation printed to stderr.
        message: String,
    },
    /// No PostgreSQL is available and `CI` is set: every PostgreSQL test fails with this.
    Fail {
        /// The panic message.
        message: String,
    },
}

/// Applies the rules: `TEST_DATABASE_URL` wins; otherwise binaries mean a throwaway cluster;
/// otherwise skip, unless under CI, where the absence is a failure.
pub(crate) fn decide(inputs: Inputs) -> Source {
    if let Some(admin_url) = inputs.test_database_url {
        return Source::External { admin_url };
    }
    let searched = match inputs.binaries {
        Ok(bin_dir) => return Source::Local { bin_dir },
        Err(searched) => searched,
    };
    let looked_in = if searched.is_empty() {
        String::from("nowhere")
    } else {
        searched.join(", ")
    };
    let how_to_fix = "Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql-15`), \
         point CHASQUI_PG_BIN at the directory holding initdb and pg_ctl, \
         or set TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres";
    if inputs.ci {
        Source::Fail {
            message: format!(
                "PostgreSQL tests cannot run and CI is set, so this is a failure: \
                 no PostgreSQL binaries (initdb, pg_ctl) in {looked_in}, \
                 and TEST_DATABASE_URL is unset. {how_to_fix}."
            ),
        }
    } else {
        Source::Skip {
            message: format!(
                "SKIPPING PostgreSQL tests: no PostgreSQL binaries (initdb, pg_ctl) in \
                 {looked_in}, and TEST_DATABASE_URL is unset. {how_to_fix}. \
                 (With CI set, this is a failure instead.)"
            ),
        }
    }
}

/// Whether the value of `CI` turns a missing PostgreSQL into a failure: any non-empty value
/// except `false` and `0`.
pub(crate) fn is_ci(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("" | "0") => false,
        Some(value) => !value.eq_ignore_ascii_case("false"),
    }
}

/// Finds a directory holding `initdb` and `pg_ctl`.
///
/// `CHASQUI_PG_BIN`, when set, is the only place looked at. Otherwise: version 15's Debian
/// directory, then the other versions' (newest first), then `PATH`. On failure, returns the
/// places searched, for the message.
pub(crate) fn find_binaries(bin_override: Option<&Path>) -> Result<PathBuf, Vec<String>> {
    if let Some(dir) = bin_override {
        return if has_binaries(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(vec![format!("{} (from CHASQUI_PG_BIN)", dir.display())])
        };
    }
    let mut candidates = vec![PathBuf::from(PREFERRED_BIN_DIR)];
    candidates.extend(debian_version_dirs(Path::new(DEBIAN_VERSIONS_DIR)));
    if let Some(found) = candidates.iter().find(|dir| has_binaries(dir)) {
        return Ok(found.clone());
    }
    if let Some(path) = env::var_os("PATH")
        && let Some(found) = env::split_paths(&path).find(|dir| has_binaries(dir))
    {
        return Ok(found);
    }
    let mut searched = vec![PREFERRED_BIN_DIR.to_owned()];
    searched.push(format!("{DEBIAN_VERSIONS_DIR}/*/bin"));
    searched.push(String::from("PATH"));
    Err(searched)
}

/// `<root>/<version>/bin` for every version directory under `root`, newest version first.
fn debian_version_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn has_binaries(dir: &Path) -> bool {
    REQUIRED_BINARIES
        .iter()
        .all(|name| dir.join(name).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(url: Option<&str>, ci: bool, binaries: Result<&str, ()>) -> Inputs {
        Inputs {
            test_database_url: url.map(str::to_owned),
            ci,
            binaries: binaries
                .map(PathBuf::from)
                .map_err(|()| vec![String::from("/nowhere/bin")]),
        }
    }

    #[test]
    fn test_database_url_wins_over_binaries_and_ci() {
        let url = "postgres://u:p@db:5432/postgres";
        for ci in [false, true] {
            for binaries in [Ok("/pg/bin"), Err(())] {
                assert_eq!(
                    decide(inputs(Some(url), ci, binaries)),
                    Source::External {
                        admin_url: url.to_owned()
                    }
                );
            }
        }
    }

    #[test]
    fn binaries_without_url_start_a_local_cluster() {
        for ci in [false, true] {
            assert_eq!(
                decide(inputs(None, ci, Ok("/pg/bin"))),
                Source::Local {
                    bin_dir: PathBuf::from("/pg/bin")
                }
            );
        }
    }

    #[test]
    fn nothing_available_skips_loudly_outside_ci() {
        let Source::Skip { message } = decide(inputs(None, false, Err(()))) else {
            panic!("expected a skip");
        };
        assert!(
            message.starts_with("SKIPPING PostgreSQL tests"),
            "{message}"
        );
        assert!(message.contains("/nowhere/bin"), "{message}");
        assert!(message.contains("TEST_DATABASE_URL"), "{message}");
        assert!(message.contains("postgresql-15"), "{message}");
    }

    #[test]
    fn nothing_available_fails_under_ci() {
        let Source::Fail { message } = decide(inputs(None, true, Err(()))) else {
            panic!("expected a failure");
        };
        assert!(message.contains("CI is set"), "{message}");
        assert!(message.contains("/nowhere/bin"), "{message}");
    }

    #[test]
    fn ci_values() {
        for off in [
            None,
            Some(""),
            Some("  "),
            Some("0"),
            Some("false"),
            Some("FALSE"),
        ] {
            assert!(!is_ci(off), "{off:?}");
        }
        for on in ["true", "1", "yes", "github-actions", "True"] {
            assert!(is_ci(Some(on)), "{on}");
        }
    }

    #[test]
    fn an_override_without_binaries_is_not_searched_past() {
        let empty =
            std::env::temp_dir().join(format!("chasqui-testdb-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("create an empty dir");
        let searched = find_binaries(Some(&empty)).expect_err("an empty dir has no binaries");
        assert_eq!(searched.len(), 1);
        assert!(searched[0].contains("CHASQUI_PG_BIN"), "{searched:?}");
        std::fs::remove_dir(&empty).expect("remove the empty dir");
    }

    #[test]
    fn an_override_with_binaries_is_used() {
        let dir = std::env::temp_dir().join(format!("chasqui-testdb-fake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a dir");
        for name in REQUIRED_BINARIES {
            std::fs::write(dir.join(name), "").expect("create a fake binary");
        }
        assert_eq!(find_binaries(Some(&dir)), Ok(dir.clone()));
        std::fs::remove_dir_all(&dir).expect("remove the dir");
    }

    #[test]
    fn version_dirs_are_newest_first_and_ignore_other_names() {
        let root =
            std::env::temp_dir().join(format!("chasqui-testdb-versions-{}", std::process::id()));
        for name in ["9.6", "15", "13", "16", "common", "notes.txt"] {
            std::fs::create_dir_all(root.join(name)).expect("create a version dir");
        }
        let dirs = debian_version_dirs(&root);
        let names: Vec<_> = dirs
            .iter()
            .map(|dir| {
                dir.strip_prefix(&root)
                    .expect("under root")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["16/bin", "15/bin", "13/bin", "9.6/bin"]);
        std::fs::remove_dir_all(&root).expect("remove the dir");
    }
}
