//! `tuf-root`: the TUF repository that distributes the Sigstore trust root
//! (`trusted_root.json`, `signing_config.v0.2.json`) of a private stack.
//!
//! A *workspace* directory holds everything the publisher owns:
//!
//! ```text
//! D/tuf-root.toml        expiry periods and the references of the keys that sign
//!                        targets, snapshot and timestamp (never root keys, never a PIN)
//! D/repository/          what clients fetch: N.root.json (every N, forever), root.json,
//!                        timestamp.json, N.snapshot.json, N.targets.json, targets/<sha256>.<name>
//! D/staged/N.root.json   a root still collecting signatures (key ceremony, rotation)
//! D/trusted_root.json, D/signing_config.v0.2.json   copies of the published targets
//! ```
//!
//! Invariants, checked before anything is written:
//! * every file in `repository/` verifies with the client rules of
//!   `sigstack_core::tuf` from `1.root.json` (each write is followed by a
//!   full client check of the result);
//! * files are written atomically (temporary file, fsync, rename) and in
//!   the order a client reads them backwards: targets files, then
//!   `N.targets.json`, then `N.snapshot.json`, then `timestamp.json`, so a
//!   client never sees metadata that names a file not yet written;
//! * versioned files are never overwritten or deleted;
//! * one writer at a time (an exclusive `flock` on `D/.lock`).
//!
//! Why not `tough`: see `docs/ARCHITECTURE.md` (it needs PKCS#8 DER keys,
//! has no PKCS#11 or encrypted-PEM source, re-signs all roles on every
//! change, and writes sub-second expiries python-tuf rejects).

pub mod bundle;
pub mod cli;
pub mod keys;
pub mod repo;
pub mod serve;
pub mod trust;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use repo::{Expiry, Workspace};

/// Why a publisher operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tuf(#[from] sigstack_core::tuf::TufError),
    #[error("key: {0}")]
    Key(String),
    /// A key that is not listed for the role it would sign.
    #[error("key {key_id} is not a {role} key in root v{root_version}; refusing to sign with it")]
    NotInRole {
        key_id: String,
        role: String,
        root_version: u64,
    },
    #[error("trusted root: {0}")]
    TrustedRoot(String),
    #[error("signing config: {0}")]
    SigningConfig(String),
    #[error("{0}")]
    Invalid(String),
    #[error("fetching {url}: {msg}")]
    Fetch { url: String, msg: String },
    #[error("config {path}: {msg}")]
    Config { path: String, msg: String },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
