//! The client update workflow (TUF specification §5.3–5.7), in the order
//! and with the checks of python-tuf's `TrustedMetadataSet`, which is the
//! strictest of the clients we serve.
//!
//! Invariants of [`TrustedSet`] (one set may live across many refreshes,
//! like a client's metadata cache):
//! * it only ever holds metadata whose signatures met the threshold of the
//!   root it trusted at the time;
//! * root moves one version at a time, each new root signed by the
//!   threshold of both the old and the new root role; when the timestamp or
//!   snapshot keys change, the metadata they signed is dropped (the spec's
//!   fast-forward attack recovery);
//! * a new timestamp demotes the trusted snapshot to the rollback reference
//!   of the next one and drops the targets;
//! * timestamp, snapshot and targets are loaded in that order, each checked
//!   against the one before (version, length and hashes), so metadata from
//!   different repository states cannot be mixed;
//! * like python-tuf, an expired timestamp/snapshot/targets is still kept
//!   after its signature checked out (it stays the rollback reference), but
//!   the update fails and the next role cannot be loaded on top of it.

use time::OffsetDateTime;

use super::metadata::{parse_role, Envelope, Role, Root, Snapshot, Targets, Timestamp};
use super::TufError;

/// How many root versions one update may walk (python-tuf, go-tuf, tuf-js).
pub const MAX_ROOT_ROTATIONS: u64 = 256;
/// Size caps the clients apply by default.
const MAX_ROOT_BYTES: u64 = 512_000;
const MAX_TIMESTAMP_BYTES: u64 = 16_384;
const MAX_SNAPSHOT_BYTES: u64 = 2_000_000;
const MAX_TARGETS_BYTES: u64 = 5_000_000;

/// Where metadata and targets come from (HTTP, a directory, a test map).
pub trait Fetcher {
    /// The bytes of `path` (relative to the repository base), `Ok(None)`
    /// when the repository does not have it (HTTP 404), an error otherwise.
    /// Implementations must not return more than `max_len` bytes.
    fn fetch(&mut self, path: &str, max_len: u64) -> Result<Option<Vec<u8>>, TufError>;
}

/// The metadata a client trusts.
#[derive(Debug, Clone)]
pub struct TrustedSet {
    now: OffsetDateTime,
    root: Root,
    root_bytes: Vec<u8>,
    timestamp: Option<(Timestamp, Vec<u8>)>,
    snapshot: Option<(Snapshot, Vec<u8>)>,
    /// The snapshot trusted before the current timestamp: what a new
    /// snapshot must not roll back from.
    prev_snapshot: Option<Snapshot>,
    targets: Option<(Targets, Vec<u8>)>,
}

impl TrustedSet {
    /// Starts from a trusted root (the bootstrap `root.json` or a cached
    /// one). It must be signed by its own root threshold; expiry is checked
    /// later, after any newer root was fetched.
    pub fn new(root_bytes: &[u8], now: OffsetDateTime) -> Result<Self, TufError> {
        let (env, root) = parse_role::<Root>(root_bytes)?;
        root.verify_role("root", &env, "root")?;
        Ok(TrustedSet {
            now,
            root,
            root_bytes: root_bytes.to_vec(),
            timestamp: None,
            snapshot: None,
            prev_snapshot: None,
            targets: None,
        })
    }

    pub fn root(&self) -> &Root {
        &self.root
    }
    pub fn root_bytes(&self) -> &[u8] {
        &self.root_bytes
    }
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref().map(|t| &t.0)
    }
    pub fn timestamp_bytes(&self) -> Option<&[u8]> {
        self.timestamp.as_ref().map(|t| t.1.as_slice())
    }
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref().map(|t| &t.0)
    }
    pub fn snapshot_bytes(&self) -> Option<&[u8]> {
        self.snapshot.as_ref().map(|t| t.1.as_slice())
    }
    pub fn targets(&self) -> Option<&Targets> {
        self.targets.as_ref().map(|t| &t.0)
    }
    pub fn targets_bytes(&self) -> Option<&[u8]> {
        self.targets.as_ref().map(|(_, b)| b.as_slice())
    }
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// Root N+1: version exactly N+1, signed by the old root's threshold and
    /// by its own. Intermediate roots may be expired.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let env = Envelope::from_slice(bytes)?;
        let new = env.parse::<Root>()?;
        self.root.verify_role("root", &env, "new root")?;
        let want = self.root.version() + 1;
        if new.version() != want {
            return Err(TufError::Version {
                role: "root".into(),
                expected: want,
                got: new.version(),
            });
        }
        new.verify_role("root", &env, "new root")?;
        let same = |role: &str| {
            self.root.roles.get(role).map(|r| &r.keyids) == new.roles.get(role).map(|r| &r.keyids)
        };
        if !same("timestamp") {
            self.timestamp = None;
        }
        if !same("snapshot") {
            self.snapshot = None;
            self.prev_snapshot = None;
        }
        self.targets = None;
        self.root = new;
        self.root_bytes = bytes.to_vec();
        Ok(())
    }

    /// Fails when the (final) trusted root has expired.
    pub fn check_root_expiry(&self) -> Result<(), TufError> {
        expired(&self.root, self.now)
    }

    /// A new timestamp. `Unchanged` when its version equals the trusted one
    /// (the client keeps what it has).
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        self.check_root_expiry()?;
        let env = Envelope::from_slice(bytes)?;
        let new = env.parse::<Timestamp>()?;
        self.root.verify_role("timestamp", &env, "timestamp")?;
        if let Some((old, _)) = &self.timestamp {
            if new.version() < old.version() {
                return Err(TufError::Rollback {
                    role: "timestamp".into(),
                    trusted: old.version(),
                    new: new.version(),
                });
            }
            if new.version() == old.version() {
                return Err(TufError::Unchanged {
                    role: "timestamp".into(),
                    version: new.version(),
                });
            }
            let (o, n) = (old.snapshot_meta().version, new.snapshot_meta().version);
            if n < o {
                return Err(TufError::Rollback {
                    role: "snapshot (in timestamp meta)".into(),
                    trusted: o,
                    new: n,
                });
            }
        }
        self.timestamp = Some((new, bytes.to_vec()));
        if let Some((snap, _)) = self.snapshot.take() {
            self.prev_snapshot = Some(snap);
        }
        self.targets = None;
        self.check_final_timestamp()
    }

    fn check_final_timestamp(&self) -> Result<(), TufError> {
        match &self.timestamp {
            Some((t, _)) => expired(t, self.now),
            None => Err(TufError::Metadata("no trusted timestamp".into())),
        }
    }

    /// A new snapshot. `trusted` = the bytes come from the client's own
    /// cache (their hash is not re-checked against the timestamp: a cached
    /// snapshot only serves as the rollback reference, as in python-tuf).
    pub fn update_snapshot(&mut self, bytes: &[u8], trusted: bool) -> Result<(), TufError> {
        self.check_final_timestamp()?;
        let meta = match &self.timestamp {
            Some((t, _)) => t.snapshot_meta().clone(),
            None => return Err(TufError::Metadata("no trusted timestamp".into())),
        };
        if !trusted {
            meta.check("snapshot.json", bytes)?;
        }
        let env = Envelope::from_slice(bytes)?;
        let new = env.parse::<Snapshot>()?;
        self.root.verify_role("snapshot", &env, "snapshot")?;
        let old = self
            .snapshot
            .as_ref()
            .map(|s| &s.0)
            .or(self.prev_snapshot.as_ref());
        if let Some(old) = old {
            for (name, old_meta) in &old.meta {
                match new.meta.get(name) {
                    None => {
                        return Err(TufError::Metadata(format!(
                            "new snapshot drops {name}, which the trusted one lists"
                        )))
                    }
                    Some(m) if m.version < old_meta.version => {
                        return Err(TufError::Rollback {
                            role: name.clone(),
                            trusted: old_meta.version,
                            new: m.version,
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        self.snapshot = Some((new, bytes.to_vec()));
        self.targets = None;
        self.check_final_snapshot()
    }

    fn check_final_snapshot(&self) -> Result<(), TufError> {
        let Some((snap, _)) = &self.snapshot else {
            return Err(TufError::Metadata("no trusted snapshot".into()));
        };
        expired(snap, self.now)?;
        let want = self
            .timestamp
            .as_ref()
            .map(|t| t.0.snapshot_meta().version)
            .unwrap_or_default();
        if snap.version() != want {
            return Err(TufError::Version {
                role: "snapshot".into(),
                expected: want,
                got: snap.version(),
            });
        }
        Ok(())
    }

    /// The top-level targets role.
    pub fn update_targets(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        self.check_final_snapshot()?;
        let meta = match self
            .snapshot
            .as_ref()
            .and_then(|s| s.0.meta.get("targets.json"))
        {
            Some(m) => m.clone(),
            None => {
                return Err(TufError::Metadata(
                    "snapshot does not list targets.json".into(),
                ))
            }
        };
        meta.check("targets.json", bytes)?;
        let env = Envelope::from_slice(bytes)?;
        let new = env.parse::<Targets>()?;
        self.root.verify_role("targets", &env, "targets")?;
        if new.version() != meta.version {
            return Err(TufError::Version {
                role: "targets".into(),
                expected: meta.version,
                got: new.version(),
            });
        }
        expired(&new, self.now)?;
        self.targets = Some((new, bytes.to_vec()));
        Ok(())
    }

    /// The repository path of a metadata file under consistent snapshots.
    fn versioned(&self, name: &str, version: u64) -> String {
        if self.root.consistent_snapshot {
            format!("{version}.{name}")
        } else {
            name.to_string()
        }
    }
}

fn expired<R: Role>(role: &R, now: OffsetDateTime) -> Result<(), TufError> {
    if role.is_expired(now) {
        return Err(TufError::Expired {
            role: R::TYPE.to_string(),
            version: role.version(),
            expires: role.common().expires.clone(),
        });
    }
    Ok(())
}

/// One full client update: walk root versions until a 404, then
/// timestamp, snapshot and targets. A timestamp equal to the trusted one
/// keeps the trusted timestamp, snapshot and targets (no re-download).
pub fn refresh(set: &mut TrustedSet, fetcher: &mut dyn Fetcher) -> Result<(), TufError> {
    for _ in 0..MAX_ROOT_ROTATIONS {
        let name = format!("{}.root.json", set.root.version() + 1);
        match fetcher.fetch(&name, MAX_ROOT_BYTES)? {
            Some(bytes) => set.update_root(&bytes)?,
            None => break,
        }
    }
    set.check_root_expiry()?;

    let ts = fetcher
        .fetch("timestamp.json", MAX_TIMESTAMP_BYTES)?
        .ok_or_else(|| TufError::NotFound("timestamp.json".into()))?;
    match set.update_timestamp(&ts) {
        Ok(()) => {}
        Err(TufError::Unchanged { .. }) => {
            // Nothing new; what is trusted must still be fresh.
            set.check_final_timestamp()?;
            if let Some((targets, _)) = &set.targets {
                set.check_final_snapshot()?;
                return expired(targets, set.now);
            }
        }
        Err(e) => return Err(e),
    }

    let snap_version = set
        .timestamp()
        .map(|t| t.snapshot_meta().version)
        .unwrap_or_default();
    let snap_name = set.versioned("snapshot.json", snap_version);
    let max = set
        .timestamp()
        .and_then(|t| t.snapshot_meta().length)
        .unwrap_or(MAX_SNAPSHOT_BYTES);
    let snap = fetcher
        .fetch(&snap_name, max)?
        .ok_or_else(|| TufError::NotFound(snap_name.clone()))?;
    set.update_snapshot(&snap, false)?;

    let Some(meta) = set
        .snapshot()
        .and_then(|s| s.meta.get("targets.json"))
        .cloned()
    else {
        return Err(TufError::Metadata(
            "snapshot does not list targets.json".into(),
        ));
    };
    let targets_name = set.versioned("targets.json", meta.version);
    let targets = fetcher
        .fetch(&targets_name, meta.length.unwrap_or(MAX_TARGETS_BYTES))?
        .ok_or_else(|| TufError::NotFound(targets_name.clone()))?;
    set.update_targets(&targets)
}

/// Downloads one target and checks it against the trusted targets role.
pub fn fetch_target(
    set: &TrustedSet,
    fetcher: &mut dyn Fetcher,
    name: &str,
) -> Result<Vec<u8>, TufError> {
    let targets = set
        .targets()
        .ok_or_else(|| TufError::Metadata("no trusted targets (refresh first)".into()))?;
    let info = targets
        .targets
        .get(name)
        .ok_or_else(|| TufError::NotFound(format!("target {name}")))?;
    let path = if set.root.consistent_snapshot {
        let hash = info
            .sha256()
            .ok_or_else(|| TufError::Metadata(format!("target {name} has no sha256")))?;
        match name.rsplit_once('/') {
            Some((dir, base)) => format!("targets/{dir}/{hash}.{base}"),
            None => format!("targets/{hash}.{name}"),
        }
    } else {
        format!("targets/{name}")
    };
    let bytes = fetcher
        .fetch(&path, info.length)?
        .ok_or_else(|| TufError::NotFound(path.clone()))?;
    info.check(name, &bytes)?;
    Ok(bytes)
}
