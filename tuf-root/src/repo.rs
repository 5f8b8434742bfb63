//! The publisher's workspace: key ceremony, targets, refresh and root
//! rotation (module docs of the crate list the invariants).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sigstack_core::tuf::{
    self, Envelope, Key, MetaFile, Role, RoleKeys, Root, Signature, Snapshot, TargetFile, Targets,
    Timestamp, TrustedSet,
};
use time::{Duration, OffsetDateTime};

use crate::keys::{self, KeyRef, LoadedKey, TufSigner};
use crate::Error;

pub const CONFIG_FILE: &str = "tuf-root.toml";

/// Lifetimes of newly signed metadata, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expiry {
    pub root: u32,
    pub targets: u32,
    pub snapshot: u32,
    pub timestamp: u32,
}

impl Default for Expiry {
    /// Root and targets are signed offline, so they live a year; snapshot
    /// and timestamp are re-signed by `refresh` (run it daily: each is
    /// renewed once half of its life has passed).
    fn default() -> Self {
        Expiry {
            root: 365,
            targets: 365,
            snapshot: 30,
            timestamp: 7,
        }
    }
}

impl Expiry {
    fn days(&self, role: &str) -> u32 {
        match role {
            "root" => self.root,
            "targets" => self.targets,
            "snapshot" => self.snapshot,
            _ => self.timestamp,
        }
    }

    fn validate(&self) -> Result<(), String> {
        for role in ["root", "targets", "snapshot", "timestamp"] {
            if self.days(role) == 0 || self.days(role) > 3650 {
                return Err(format!("{role} expiry must be 1..=3650 days"));
            }
        }
        if self.timestamp > self.snapshot {
            return Err("the timestamp must not outlive the snapshot".into());
        }
        Ok(())
    }
}

/// References of the keys the publisher signs routine metadata with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub targets: Vec<String>,
    pub snapshot: Vec<String>,
    pub timestamp: Vec<String>,
}

/// `tuf-root.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub expiry_days: Expiry,
    pub keys: KeyConfig,
}

/// What `init` needs.
pub struct InitOptions {
    pub root_keys: Vec<KeyRef>,
    pub root_threshold: u64,
    pub targets_keys: Vec<KeyRef>,
    pub snapshot_keys: Vec<KeyRef>,
    pub timestamp_keys: Vec<KeyRef>,
    pub expiry: Expiry,
}

/// What `rotate-root` changes. `None` keeps the current keys.
#[derive(Default)]
pub struct RotateOptions {
    pub old_root_keys: Vec<KeyRef>,
    pub root_keys: Option<Vec<KeyRef>>,
    pub root_threshold: Option<u64>,
    pub targets_keys: Option<Vec<KeyRef>>,
    pub snapshot_keys: Option<Vec<KeyRef>>,
    pub timestamp_keys: Option<Vec<KeyRef>>,
}

/// The published metadata, parsed.
pub struct State {
    pub root: Root,
    pub targets: Targets,
    pub snapshot: Snapshot,
    pub timestamp: Timestamp,
}

/// Outcome of a root signing step.
#[derive(Debug, PartialEq, Eq)]
pub enum RootStatus {
    Published(u64),
    /// Still short of signatures (what is missing is in the message).
    Staged {
        version: u64,
        missing: String,
    },
}

/// An open workspace. Mutating methods take the workspace lock.
pub struct Workspace {
    dir: PathBuf,
    pub(crate) config: Config,
    /// Key references given on this process's command line (with their
    /// PINs), used before the PIN-less ones stored in the config.
    session_keys: BTreeMap<String, Vec<KeyRef>>,
}

/// An exclusive lock on the workspace (released when the file closes).
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn take(dir: &Path) -> Result<Self, Error> {
        use std::os::fd::AsRawFd;
        let path = dir.join(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(Error::Invalid(format!(
                "{} is locked by another tuf-root process",
                dir.display()
            )));
        }
        Ok(Lock { _file: f })
    }
}

fn parse_refs(refs: &[String]) -> Result<Vec<KeyRef>, Error> {
    refs.iter().map(|r| KeyRef::parse(r)).collect()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::now_utc())
}

impl Workspace {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn repository(&self) -> PathBuf {
        self.dir.join("repository")
    }
    fn staged(&self) -> PathBuf {
        self.dir.join("staged")
    }
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens an existing workspace.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Invalid(format!(
                    "{} is not a tuf-root workspace (no {CONFIG_FILE}); run `tuf-root init` first",
                    dir.display()
                ))
            } else {
                Error::io(&path, e)
            }
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        config.expiry_days.validate().map_err(|msg| Error::Config {
            path: path.display().to_string(),
            msg,
        })?;
        Ok(Workspace {
            dir: dir.to_path_buf(),
            config,
            session_keys: BTreeMap::new(),
        })
    }

    /// The key ceremony: root v1 with the given keys and threshold, signed
    /// by every root key whose private half is at hand. When that meets the
    /// threshold, root v1 is published with empty targets, a snapshot and
    /// a timestamp; otherwise it waits in `staged/` for `sign-root`.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<(Self, RootStatus), Error> {
        opts.expiry.validate().map_err(Error::Invalid)?;
        if dir.join(CONFIG_FILE).exists() {
            return Err(Error::Invalid(format!(
                "{} is already a tuf-root workspace; refusing to run the ceremony twice",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let _lock = Lock::take(dir)?;
        let roles = [
            ("root", &opts.root_keys),
            ("targets", &opts.targets_keys),
            ("snapshot", &opts.snapshot_keys),
            ("timestamp", &opts.timestamp_keys),
        ];
        let mut loaded: BTreeMap<&str, Vec<LoadedKey>> = BTreeMap::new();
        for (role, refs) in roles {
            if refs.is_empty() {
                return Err(Error::Invalid(format!("{role} needs at least one key")));
            }
            loaded.insert(role, refs.iter().map(keys::load).collect::<Result<_, _>>()?);
        }
        let n_root = opts.root_keys.len() as u64;
        if opts.root_threshold == 0 || opts.root_threshold > n_root {
            return Err(Error::Invalid(format!(
                "root threshold must be 1..={n_root} (the number of root keys)"
            )));
        }
        let mut root = Root {
            common: tuf::metadata_common("root", 1, now() + days(opts.expiry.root)),
            consistent_snapshot: true,
            keys: BTreeMap::new(),
            roles: BTreeMap::new(),
            extra: Default::default(),
        };
        for (role, keys) in &loaded {
            let threshold = if *role == "root" {
                opts.root_threshold
            } else {
                1
            };
            set_role_keys(&mut root, role, keys.iter().map(LoadedKey::key), threshold)?;
        }
        let config = Config {
            expiry_days: opts.expiry,
            keys: KeyConfig {
                targets: opts
                    .targets_keys
                    .iter()
                    .map(KeyRef::to_config_string)
                    .collect(),
                snapshot: opts
                    .snapshot_keys
                    .iter()
                    .map(KeyRef::to_config_string)
                    .collect(),
                timestamp: opts
                    .timestamp_keys
                    .iter()
                    .map(KeyRef::to_config_string)
                    .collect(),
            },
        };
        let ws = Workspace {
            dir: dir.to_path_buf(),
            config,
            session_keys: BTreeMap::from([
                ("targets".to_string(), opts.targets_keys.clone()),
                ("snapshot".to_string(), opts.snapshot_keys.clone()),
                ("timestamp".to_string(), opts.timestamp_keys.clone()),
            ]),
        };
        for d in [ws.repository(), ws.staged()] {
            let used = std::fs::read_dir(&d)
                .map(|mut r| r.next().is_some())
                .unwrap_or(false);
            if used {
                return Err(Error::Invalid(format!(
                    "{} already has files; init needs a fresh workspace",
                    d.display()
                )));
            }
        }
        // Nothing of a failed ceremony was handed to anyone: remove what it
        // wrote, so that it can be run again in the same place.
        let result = ws.init_files(&root, &loaded["root"]);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(ws.repository());
            let _ = std::fs::remove_dir_all(ws.staged());
            let _ = std::fs::remove_file(dir.join(CONFIG_FILE));
        }
        let status = result?;
        Ok((ws, status))
    }

    fn init_files(&self, root: &Root, root_keys: &[LoadedKey]) -> Result<RootStatus, Error> {
        for d in [
            self.repository(),
            self.repository().join("targets"),
            self.staged(),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        write_config(&self.dir.join(CONFIG_FILE), &self.config)?;
        let mut env = Envelope::unsigned(root)?;
        let signers: Vec<&dyn TufSigner> = root_keys
            .iter()
            .filter_map(|k| match k {
                LoadedKey::Signer(s) => Some(s.as_ref()),
                LoadedKey::Public(_) => None,
            })
            .collect();
        add_signatures(&mut env, &[root], "root", &signers)?;
        write_atomic(
            &self.staged().join("1.root.json"),
            &env.to_file_bytes()?,
            true,
        )?;
        self.try_publish_root(None, root, &env)
    }

    /// Parses the published metadata.
    pub fn state(&self) -> Result<State, Error> {
        let repo = self.repository();
        let read = |name: &str| -> Result<Vec<u8>, Error> {
            let p = repo.join(name);
            std::fs::read(&p).map_err(|e| Error::io(&p, e))
        };
        let version = latest_root_version(&repo)?.ok_or_else(|| {
            Error::Invalid("no root has been published yet (see `tuf-root sign-root`)".into())
        })?;
        let root: Root = Envelope::from_slice(&read(&format!("{version}.root.json"))?)?.parse()?;
        let timestamp: Timestamp = Envelope::from_slice(&read("timestamp.json")?)?.parse()?;
        let sv = timestamp.snapshot_meta().version;
        let snapshot: Snapshot =
            Envelope::from_slice(&read(&format!("{sv}.snapshot.json"))?)?.parse()?;
        let tv = snapshot
            .meta
            .get("targets.json")
            .map(|m| m.version)
            .ok_or_else(|| Error::Invalid("snapshot does not list targets.json".into()))?;
        let targets: Targets =
            Envelope::from_slice(&read(&format!("{tv}.targets.json"))?)?.parse()?;
        Ok(State {
            root,
            targets,
            snapshot,
            timestamp,
        })
    }

    fn role_signers(
        &self,
        role: &str,
        over: Option<&[KeyRef]>,
    ) -> Result<Vec<Box<dyn TufSigner>>, Error> {
        let refs = match over.or(self.session_keys.get(role).map(Vec::as_slice)) {
            Some(r) => r.to_vec(),
            None => {
                let list = match role {
                    "targets" => &self.config.keys.targets,
                    "snapshot" => &self.config.keys.snapshot,
                    _ => &self.config.keys.timestamp,
                };
                parse_refs(list)?
                    .iter()
                    .map(|r| r.resolve(&self.dir))
                    .collect()
            }
        };
        if refs.is_empty() {
            return Err(Error::Invalid(format!("no {role} key configured")));
        }
        refs.iter().map(keys::load_signer).collect()
    }

    /// Adds or replaces a target. `trusted_root.json` and
    /// `signing_config.v0.2.json` must pass the strict models first.
    pub fn add_target(
        &self,
        name: &str,
        bytes: &[u8],
        custom: Option<Value>,
        targets_keys: Option<&[KeyRef]>,
    ) -> Result<u64, Error> {
        check_target_name(name)?;
        match name {
            "trusted_root.json" => {
                crate::trust::validate_trusted_root(bytes)?;
            }
            "signing_config.v0.2.json" => {
                crate::trust::validate_signing_config(bytes)?;
            }
            _ => {}
        }
        let _lock = Lock::take(&self.dir)?;
        let info = TargetFile::of(bytes, custom);
        let hash = info.sha256().unwrap_or_default().to_string();
        let path = self
            .repository()
            .join("targets")
            .join(match name.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/{hash}.{base}"),
                None => format!("{hash}.{name}"),
            });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if !path.exists() {
            write_atomic(&path, bytes, false)?;
        }
        self.publish_targets(targets_keys, |t| {
            t.targets.insert(name.to_string(), info);
        })
    }

    /// Removes a target from the targets role (its file stays, for clients
    /// still holding an older snapshot).
    pub fn remove_target(&self, name: &str, targets_keys: Option<&[KeyRef]>) -> Result<u64, Error> {
        let _lock = Lock::take(&self.dir)?;
        if !self.state()?.targets.targets.contains_key(name) {
            return Err(Error::Invalid(format!("no target named {name}")));
        }
        self.publish_targets(targets_keys, |t| {
            t.targets.remove(name);
        })
    }

    /// New targets (version + 1), then snapshot and timestamp.
    fn publish_targets(
        &self,
        targets_keys: Option<&[KeyRef]>,
        edit: impl FnOnce(&mut Targets),
    ) -> Result<u64, Error> {
        let state = self.state()?;
        let signers = self.role_signers("targets", targets_keys)?;
        let mut targets = state.targets.clone();
        edit(&mut targets);
        let version = targets.common.version + 1;
        self.bump(&mut targets.common, "targets", version);
        let env = sign_role(&targets, &state.root, &signers)?;
        let bytes = env.to_file_bytes()?;
        write_atomic(
            &self.repository().join(format!("{version}.targets.json")),
            &bytes,
            false,
        )?;
        self.publish_snapshot(&state, Some((version, &bytes)))?;
        self.check()?;
        Ok(version)
    }

    fn bump(&self, common: &mut tuf::Common, role: &str, version: u64) {
        *common = tuf::metadata_common(
            role,
            version,
            now() + days(self.config.expiry_days.days(role)),
        );
    }

    /// A new snapshot (optionally pointing at new targets) and timestamp.
    fn publish_snapshot(&self, state: &State, targets: Option<(u64, &[u8])>) -> Result<(), Error> {
        let mut snapshot = state.snapshot.clone();
        if let Some((v, bytes)) = targets {
            snapshot
                .meta
                .insert("targets.json".into(), MetaFile::of(v, bytes));
        }
        let version = snapshot.common.version + 1;
        self.bump(&mut snapshot.common, "snapshot", version);
        let env = sign_role(
            &snapshot,
            &state.root,
            &self.role_signers("snapshot", None)?,
        )?;
        let bytes = env.to_file_bytes()?;
        write_atomic(
            &self.repository().join(format!("{version}.snapshot.json")),
            &bytes,
            false,
        )?;
        self.publish_timestamp(state, Some((version, &bytes)))
    }

    fn publish_timestamp(
        &self,
        state: &State,
        snapshot: Option<(u64, &[u8])>,
    ) -> Result<(), Error> {
        let mut timestamp = state.timestamp.clone();
        if let Some((v, bytes)) = snapshot {
            timestamp
                .meta
                .insert("snapshot.json".into(), MetaFile::of(v, bytes));
        }
        let version = timestamp.common.version + 1;
        self.bump(&mut timestamp.common, "timestamp", version);
        let env = sign_role(
            &timestamp,
            &state.root,
            &self.role_signers("timestamp", None)?,
        )?;
        write_atomic(
            &self.repository().join("timestamp.json"),
            &env.to_file_bytes()?,
            true,
        )
    }

    /// The routine job (cron/systemd timer): re-signs the snapshot when
    /// half its life has passed, and the timestamp when half its life has
    /// passed or the snapshot changed (always with `force`). Never touches
    /// root or targets; returns what it did and warnings about the offline
    /// roles, which it cannot renew.
    pub fn refresh(&self, force: bool) -> Result<Vec<String>, Error> {
        let _lock = Lock::take(&self.dir)?;
        let state = self.state()?;
        let now = now();
        let due = |expires: OffsetDateTime, role: &str| {
            expires - now < days(self.config.expiry_days.days(role)) / 2
        };
        let mut report = Vec::new();
        if due(state.snapshot.expires(), "snapshot") {
            self.publish_snapshot(&state, None)?;
            report.push(format!(
                "snapshot v{} and timestamp v{} signed",
                state.snapshot.version() + 1,
                state.timestamp.version() + 1
            ));
        } else if force || due(state.timestamp.expires(), "timestamp") {
            self.publish_timestamp(&state, None)?;
            report.push(format!(
                "timestamp v{} signed",
                state.timestamp.version() + 1
            ));
        } else {
            report.push(format!(
                "nothing due: timestamp v{} expires {}",
                state.timestamp.version(),
                state.timestamp.common.expires
            ));
        }
        for (role, expires) in [
            ("root", state.root.expires()),
            ("targets", state.targets.expires()),
        ] {
            let left = expires - now;
            if left < days(30) {
                report.push(format!(
                    "WARNING: {role} expires {} ({} days); it needs its offline keys to renew",
                    tuf::format_expires(expires),
                    left.whole_days()
                ));
            }
        }
        self.check()?;
        Ok(report)
    }

    /// Root N+1: current root with the requested key changes, signed by the
    /// given old root keys and by every new root key at hand. Published
    /// when both thresholds are met, otherwise staged for `sign-root`.
    pub fn rotate_root(&self, opts: RotateOptions) -> Result<RootStatus, Error> {
        let _lock = Lock::take(&self.dir)?;
        let state = self.state()?;
        let old = state.root.clone();
        let version = old.common.version + 1;
        if self.staged().join(format!("{version}.root.json")).exists() {
            return Err(Error::Invalid(format!(
                "root v{version} is already staged; add signatures with `sign-root` or remove {}",
                self.staged().join(format!("{version}.root.json")).display()
            )));
        }
        let mut new = old.clone();
        new.common =
            tuf::metadata_common("root", version, now() + days(self.config.expiry_days.root));
        let mut signers: Vec<Box<dyn TufSigner>> = Vec::new();
        for r in &opts.old_root_keys {
            signers.push(keys::load_signer(r)?);
        }
        let changes = [
            ("root", &opts.root_keys),
            ("targets", &opts.targets_keys),
            ("snapshot", &opts.snapshot_keys),
            ("timestamp", &opts.timestamp_keys),
        ];
        let mut changed_roles = Vec::new();
        for (role, refs) in changes {
            let Some(refs) = refs else { continue };
            let loaded: Vec<LoadedKey> = refs.iter().map(keys::load).collect::<Result<_, _>>()?;
            let threshold = match role {
                "root" => opts.root_threshold.unwrap_or(old.role("root")?.threshold),
                _ => 1,
            };
            set_role_keys(&mut new, role, loaded.iter().map(LoadedKey::key), threshold)?;
            if role == "root" {
                for k in loaded {
                    if let LoadedKey::Signer(s) = k {
                        signers.push(s);
                    }
                }
            }
            changed_roles.push(role);
        }
        if let (Some(t), None) = (opts.root_threshold, &opts.root_keys) {
            let role = new
                .roles
                .get_mut("root")
                .ok_or_else(|| Error::Invalid("no root role".into()))?;
            role.threshold = t;
        }
        let root_role = new.role("root")?;
        if root_role.threshold == 0 || root_role.threshold > root_role.keyids.len() as u64 {
            return Err(Error::Invalid(format!(
                "root threshold must be 1..={}",
                root_role.keyids.len()
            )));
        }
        new.keys
            .retain(|id, _| new.roles.values().any(|r| r.keyids.contains(id)));
        let mut env = Envelope::unsigned(&new)?;
        let refs: Vec<&dyn TufSigner> = signers.iter().map(|s| s.as_ref()).collect();
        add_signatures(&mut env, &[&old, &new], "root", &refs)?;
        write_atomic(
            &self.staged().join(format!("{version}.root.json")),
            &env.to_file_bytes()?,
            true,
        )?;
        // Role keys that changed: the config must point at the new keys,
        // but only once the new root is published (until then refresh
        // keeps signing with the keys the published root lists).
        let mut config = self.config.clone();
        for (role, refs) in [
            ("targets", &opts.targets_keys),
            ("snapshot", &opts.snapshot_keys),
            ("timestamp", &opts.timestamp_keys),
        ] {
            if let Some(refs) = refs {
                let list: Vec<String> = refs.iter().map(KeyRef::to_config_string).collect();
                match role {
                    "targets" => config.keys.targets = list,
                    "snapshot" => config.keys.snapshot = list,
                    _ => config.keys.timestamp = list,
                }
            }
        }
        if config != self.config {
            write_config(
                &self.staged().join(format!("{version}.{CONFIG_FILE}")),
                &config,
            )?;
        }
        self.try_publish_root(Some(&old), &new, &env)
    }

    /// Adds signatures to the staged root and publishes it when complete.
    pub fn sign_root(&self, keys: &[KeyRef]) -> Result<RootStatus, Error> {
        let _lock = Lock::take(&self.dir)?;
        let current = latest_root_version(&self.repository())?;
        let version = current.unwrap_or(0) + 1;
        let path = self.staged().join(format!("{version}.root.json"));
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Invalid(format!("no root v{version} is staged"))
            } else {
                Error::io(&path, e)
            }
        })?;
        let mut env = Envelope::from_slice(&bytes)?;
        let new: Root = env.parse()?;
        let old = match current {
            Some(_) => Some(self.state()?.root),
            None => None,
        };
        let signers: Vec<Box<dyn TufSigner>> = keys
            .iter()
            .map(keys::load_signer)
            .collect::<Result<_, _>>()?;
        let refs: Vec<&dyn TufSigner> = signers.iter().map(|s| s.as_ref()).collect();
        let roots: Vec<&Root> = old.iter().chain(std::iter::once(&new)).collect();
        add_signatures(&mut env, &roots, "root", &refs)?;
        write_atomic(&path, &env.to_file_bytes()?, true)?;
        self.try_publish_root(old.as_ref(), &new, &env)
    }

    /// Publishes a root whose signatures meet the old and new thresholds;
    /// after the first root, creates the initial targets/snapshot/timestamp;
    /// after a rotation that changed a role's keys, re-signs that role's
    /// chain so clients can verify it under the new root.
    fn try_publish_root(
        &self,
        old: Option<&Root>,
        new: &Root,
        env: &Envelope,
    ) -> Result<RootStatus, Error> {
        let version = new.common.version;
        let mut missing = Vec::new();
        if let Some(old) = old {
            if let Err(e) = old.verify_role("root", env, &format!("root v{version}")) {
                missing.push(e.to_string());
            }
        }
        if let Err(e) = new.verify_role("root", env, &format!("root v{version}")) {
            missing.push(e.to_string());
        }
        if !missing.is_empty() {
            return Ok(RootStatus::Staged {
                version,
                missing: missing.join("; "),
            });
        }
        let repo = self.repository();
        let bytes = env.to_file_bytes()?;
        write_atomic(&repo.join(format!("{version}.root.json")), &bytes, false)?;
        let staged = self.staged().join(format!("{version}.root.json"));
        let _ = std::fs::remove_file(&staged);
        match old {
            None => self.publish_initial(new)?,
            Some(old) => {
                let changed = |role: &str| {
                    old.roles.get(role).map(|r| &r.keyids) != new.roles.get(role).map(|r| &r.keyids)
                };
                let pending = self.staged().join(format!("{version}.{CONFIG_FILE}"));
                if pending.exists() {
                    std::fs::rename(&pending, self.dir.join(CONFIG_FILE))
                        .map_err(|e| Error::io(&pending, e))?;
                }
                let ws = Workspace::open(&self.dir)?;
                let state = ws.state()?;
                if changed("targets") {
                    // Offline targets keys: re-sign under the new root with
                    // the configured (new) targets keys.
                    let signers = ws.role_signers("targets", None)?;
                    let mut targets = state.targets.clone();
                    let v = targets.common.version + 1;
                    ws.bump(&mut targets.common, "targets", v);
                    let env = sign_role(&targets, new, &signers)?;
                    let tb = env.to_file_bytes()?;
                    write_atomic(&repo.join(format!("{v}.targets.json")), &tb, false)?;
                    ws.publish_snapshot(&state, Some((v, &tb)))?;
                } else if changed("snapshot") || changed("timestamp") {
                    ws.publish_snapshot(&state, None)?;
                }
            }
        }
        // The unversioned copy is for people and scripts (`cosign
        // initialize --root`); clients only fetch N.root.json.
        write_atomic(&repo.join("root.json"), &bytes, true)?;
        self.check()?;
        Ok(RootStatus::Published(version))
    }

    fn publish_initial(&self, root: &Root) -> Result<(), Error> {
        let repo = self.repository();
        if repo.join("timestamp.json").exists() {
            return Ok(());
        }
        let mut targets = Targets {
            common: tuf::metadata_common("targets", 1, now()),
            targets: BTreeMap::new(),
            delegations: None,
            extra: Default::default(),
        };
        self.bump(&mut targets.common, "targets", 1);
        let tb =
            sign_role(&targets, root, &self.role_signers("targets", None)?)?.to_file_bytes()?;
        write_atomic(&repo.join("1.targets.json"), &tb, false)?;
        let mut snapshot = Snapshot {
            common: tuf::metadata_common("snapshot", 1, now()),
            meta: BTreeMap::from([("targets.json".to_string(), MetaFile::of(1, &tb))]),
            extra: Default::default(),
        };
        self.bump(&mut snapshot.common, "snapshot", 1);
        let sb =
            sign_role(&snapshot, root, &self.role_signers("snapshot", None)?)?.to_file_bytes()?;
        write_atomic(&repo.join("1.snapshot.json"), &sb, false)?;
        let mut timestamp = Timestamp {
            common: tuf::metadata_common("timestamp", 1, now()),
            meta: BTreeMap::from([("snapshot.json".to_string(), MetaFile::of(1, &sb))]),
            extra: Default::default(),
        };
        self.bump(&mut timestamp.common, "timestamp", 1);
        let ts =
            sign_role(&timestamp, root, &self.role_signers("timestamp", None)?)?.to_file_bytes()?;
        write_atomic(&repo.join("timestamp.json"), &ts, true)
    }

    /// Checks the published repository as a fresh client would, from
    /// `1.root.json`, downloading every target.
    pub fn check(&self) -> Result<TrustedSet, Error> {
        verify_dir(&self.repository(), None, now())
    }
}

/// A client's full check of a repository directory: walk the roots from
/// `bootstrap` (default `1.root.json`), refresh, download every target.
pub fn verify_dir(
    repo: &Path,
    bootstrap: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<TrustedSet, Error> {
    let first;
    let root = match bootstrap {
        Some(b) => b,
        None => {
            let p = repo.join("1.root.json");
            first = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            &first
        }
    };
    let mut set = TrustedSet::new(root, now)?;
    let mut f = DirFetcher(repo.to_path_buf());
    tuf::refresh(&mut set, &mut f)?;
    let names: Vec<String> = set
        .targets()
        .map(|t| t.targets.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        tuf::fetch_target(&set, &mut f, &name)?;
    }
    Ok(set)
}

pub use sigstack_http::tuf_fetch::DirFetcher;

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

/// The highest N with an `N.root.json` in `repo`.
pub fn latest_root_version(repo: &Path) -> Result<Option<u64>, Error> {
    let rd = match std::fs::read_dir(repo) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(repo, e)),
    };
    let mut best = None;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(repo, e))?;
        let name = entry.file_name();
        let Some(v) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".root.json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        best = best.max(Some(v));
    }
    Ok(best)
}

fn write_config(path: &Path, config: &Config) -> Result<(), Error> {
    let text = toml::to_string_pretty(config).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(
        path,
        format!("# tuf-root workspace (see `tuf-root --help`)\n{text}").as_bytes(),
        true,
    )
}

/// Replaces a role's keys in root.
fn set_role_keys<'a>(
    root: &mut Root,
    role: &str,
    keys: impl Iterator<Item = &'a Key>,
    threshold: u64,
) -> Result<(), Error> {
    let mut keyids = Vec::new();
    for key in keys {
        let id = key.key_id()?;
        if keyids.contains(&id) {
            return Err(Error::Invalid(format!("{role} key {id} is listed twice")));
        }
        root.keys.insert(id.clone(), key.clone());
        keyids.push(id);
    }
    root.roles.insert(
        role.to_string(),
        RoleKeys {
            keyids,
            threshold,
            extra: Default::default(),
        },
    );
    Ok(())
}

/// Signs `role` with `signers`, which must all be keys of that role in
/// `root`, and checks the threshold.
pub(crate) fn sign_role<R: Role>(
    role: &R,
    root: &Root,
    signers: &[Box<dyn TufSigner>],
) -> Result<Envelope, Error> {
    let mut env = Envelope::unsigned(role)?;
    let refs: Vec<&dyn TufSigner> = signers.iter().map(|s| s.as_ref()).collect();
    add_signatures(&mut env, &[root], R::TYPE, &refs)?;
    root.verify_role(R::TYPE, &env, R::TYPE)?;
    Ok(env)
}

/// Adds (or replaces) one signature per signer. Each signer must be a
/// `role` key in at least one of `roots` (for a rotation: the old or the
/// new root); anything else is refused before signing.
fn add_signatures(
    env: &mut Envelope,
    roots: &[&Root],
    role: &str,
    signers: &[&dyn TufSigner],
) -> Result<(), Error> {
    let msg = env.canonical_signed()?;
    for s in signers {
        let listed = roots.iter().any(|r| {
            r.roles
                .get(role)
                .is_some_and(|k| k.keyids.iter().any(|id| id == s.key_id()))
        });
        if !listed {
            return Err(Error::NotInRole {
                key_id: s.key_id().to_string(),
                role: role.to_string(),
                root_version: roots.last().map(|r| r.common.version).unwrap_or_default(),
            });
        }
        let sig = hex::encode(s.sign(&msg)?);
        env.signatures.retain(|x| x.keyid != s.key_id());
        env.signatures.push(Signature {
            keyid: s.key_id().to_string(),
            sig,
        });
    }
    env.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Ok(())
}

/// A relative path of non-empty `[A-Za-z0-9._-]` segments, none of them
/// `.` or `..`: safe to join under a directory on any platform. Target
/// names, bundle entries and served URLs all pass through this.
pub(crate) fn safe_relative_path(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// Target names: relative paths of `[A-Za-z0-9._-]` segments, no `.`/`..`
/// segment, at most 255 bytes (they become file names on every mirror).
fn check_target_name(name: &str) -> Result<(), Error> {
    if name.len() <= 255 && safe_relative_path(name) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "target name {name:?}: use relative paths of letters, digits, '.', '_' and '-'"
        )))
    }
}

/// [`sigstack_http::write_atomic`] with the publisher's errors: an existing
/// file is refused ("published files are never replaced") unless `overwrite`.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), Error> {
    sigstack_http::write_atomic(path, bytes, overwrite).map_err(|e| {
        if !overwrite && e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Invalid(format!(
                "{} exists; published files are never replaced",
                path.display()
            ))
        } else {
            Error::io(path, e)
        }
    })
}
