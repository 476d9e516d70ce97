//! Where the master keys for credentials at rest come from: `CHASQUI_MASTER_KEY`, or for the
//! embedded default a key file in the data directory, created on first use with mode 0600.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use chasqui_core::secrets::{KeyId, Keyring, MasterKey};

use crate::config::Config;

/// Where the keyring was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `CHASQUI_MASTER_KEY` (or `security.master_key`).
    Configured,
    /// A key file Chasqui manages.
    File(PathBuf),
}

/// The process's keyring, shareable and reloadable (after `chasqui keys rotate` on a key file).
#[derive(Debug, Clone)]
pub struct MasterKeys {
    ring: Arc<RwLock<Keyring>>,
    source: KeySource,
}

impl MasterKeys {
    /// Loads the keyring, creating the key file on first start; returns a warning to log when
    /// the key file is in use.
    pub fn load(config: &Config) -> anyhow::Result<(Self, Option<String>)> {
        if let Some(spec) = &config.security.master_key {
            let ring = Keyring::from_spec(spec.expose()).context("CHASQUI_MASTER_KEY")?;
            return Ok((
                Self {
                    ring: Arc::new(RwLock::new(ring)),
                    source: KeySource::Configured,
                },
                None,
            ));
        }
        let path = config.master_key_file();
        let ring = if path.exists() {
            read_key_file(&path)?
        } else {
            let ring = Keyring::new(vec![MasterKey::generate(KeyId::parse("k1")?)])?;
            write_key_file(&path, &ring, true)?;
            ring
        };
        let warning = format!(
            "credentials are encrypted with the key file {}; in production set CHASQUI_MASTER_KEY \
             (e.g. `k1:$(openssl rand -base64 32)`) from a secret store and keep it out of database backups",
            path.display()
        );
        Ok((
            Self {
                ring: Arc::new(RwLock::new(ring)),
                source: KeySource::File(path),
            },
            Some(warning),
        ))
    }

    /// A snapshot of the current keyring.
    pub fn current(&self) -> Keyring {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Where the keys come from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Re-reads the key file (a no-op for configured keys), so a running server learns a key
    /// that `chasqui keys rotate` added.
    pub fn reload(&self) -> anyhow::Result<()> {
        if let KeySource::File(path) = &self.source {
            let fresh = read_key_file(path)?;
            *self.ring.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
        Ok(())
    }

    /// Adds a new primary key to the key file (old keys stay for decryption); refuses for
    /// configured keys, whose rotation is done by changing `CHASQUI_MASTER_KEY`.
    pub fn add_primary_to_file(&self) -> anyhow::Result<Keyring> {
        let KeySource::File(path) = &self.source else {
            bail!(
                "the keys come from CHASQUI_MASTER_KEY: put a new `ID:BASE64` entry first in it (keeping the old one after it) \
                 on every instance, then run `chasqui keys rotate` again"
            );
        };
        let current = read_key_file(path)?;
        let next = next_key_id(&current)?;
        let ring = current.with_new_primary(MasterKey::generate(next))?;
        write_key_file(path, &ring, false)?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring.clone();
        Ok(ring)
    }

    /// Removes a key from the key file.
    pub fn retire_from_file(&self, id: &KeyId) -> anyhow::Result<Keyring> {
        let KeySource::File(path) = &self.source else {
            bail!(
                "the keys come from CHASQUI_MASTER_KEY: remove `{id}` from it on every instance instead"
            );
        };
        let ring = read_key_file(path)?.without(id)?;
        write_key_file(path, &ring, false)?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring.clone();
        Ok(ring)
    }
}

/// `k<N+1>` where N is the highest numbered `k…` id in the ring.
fn next_key_id(ring: &Keyring) -> anyhow::Result<KeyId> {
    let highest = ring
        .key_ids()
        .filter_map(|id| {
            id.as_str()
                .strip_prefix('k')
                .and_then(|n| n.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0);
    Ok(KeyId::parse(&format!("k{}", highest + 1))?)
}

fn read_key_file(path: &Path) -> anyhow::Result<Keyring> {
    let meta =
        fs::metadata(path).with_context(|| format!("reading key file {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the key file is readable by other users; run `chmod 600` on it");
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
    Keyring::from_spec(&text).with_context(|| format!("key file {}", path.display()))
}

/// Writes atomically (temp file + rename) with mode 0600; `create_new` refuses to overwrite.
fn write_key_file(path: &Path, ring: &Keyring, create_new: bool) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let body = format!(
        "# Chasqui master keys (ID:BASE64, primary first). Losing this file makes stored credentials unreadable.\n{}\n",
        ring.to_spec()
    );
    let tmp = path.with_extension("key.tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(body.as_bytes())?;
    f.sync_all()?;
    if create_new && path.exists() {
        let _ = fs::remove_file(&tmp);
        bail!(
            "{} appeared while creating it; restart to use it",
            path.display()
        );
    }
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{CliOverrides, Config};
    use std::collections::HashMap;

    fn config_in(dir: &Path, env: &[(&str, &str)]) -> Config {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let o = CliOverrides {
            data_dir: Some(dir.to_path_buf()),
            ..Default::default()
        };
        Config::load(&o, &env).unwrap().0
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config_in(dir.path(), &[]);
        let (keys, warning) = MasterKeys::load(&cfg).unwrap();
        assert!(warning.unwrap().contains("CHASQUI_MASTER_KEY"));
        let mode = fs::metadata(cfg.master_key_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, _) = MasterKeys::load(&cfg).unwrap();
        assert_eq!(again.current().to_spec(), keys.current().to_spec());
    }

    #[test]
    fn configured_key_wins_and_file_rotation_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring =
            Keyring::new(vec![MasterKey::generate(KeyId::parse("prod-1").unwrap())]).unwrap();
        let cfg = config_in(dir.path(), &[("CHASQUI_MASTER_KEY", &ring.to_spec())]);
        let (keys, warning) = MasterKeys::load(&cfg).unwrap();
        assert!(warning.is_none());
        assert_eq!(keys.current().primary().as_str(), "prod-1");
        assert!(!cfg.master_key_file().exists());
        assert!(
            keys.add_primary_to_file()
                .unwrap_err()
                .to_string()
                .contains("CHASQUI_MASTER_KEY")
        );
    }

    #[test]
    fn rotation_adds_a_numbered_primary_and_others_see_it_after_reload() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config_in(dir.path(), &[]);
        let (server, _) = MasterKeys::load(&cfg).unwrap();
        let (cli, _) = MasterKeys::load(&cfg).unwrap();
        let ring = cli.add_primary_to_file().unwrap();
        assert_eq!(
            ring.key_ids()
                .map(|k| k.as_str().to_owned())
                .collect::<Vec<_>>(),
            ["k2", "k1"]
        );
        assert_eq!(server.current().primary().as_str(), "k1");
        server.reload().unwrap();
        assert_eq!(server.current().primary().as_str(), "k2");
        let retired = cli.retire_from_file(&KeyId::parse("k1").unwrap()).unwrap();
        assert_eq!(retired.key_ids().count(), 1);
        assert_eq!(
            fs::metadata(cfg.master_key_file())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}
