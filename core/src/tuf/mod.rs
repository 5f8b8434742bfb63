//! TUF 1.0 metadata as the Sigstore clients read it, and the client-side
//! update rules (the "trusted metadata set" of the TUF specification §5).
//!
//! Shared by the publisher (`tuf-root`, which signs and then checks its own
//! output with these rules) and by our `cosign` (`initialize --mirror`).
//! The byte-level contract (canonical JSON, key encodings, key IDs, file
//! names) is in `../shared/compat/tuf.md` §5; each rule below names the
//! client behaviour it mirrors.
//!
//! Signatures are checked over the canonical form of the `signed` object
//! *as parsed*, unknown fields included, exactly as python-tuf, go-tuf and
//! tuf-js do; the typed structs keep unknown fields (`extra`) so that what
//! we re-emit signs the same bytes.

pub mod cjson;
mod client;
mod metadata;

#[cfg(test)]
mod tests;

pub use client::{fetch_target, refresh, Fetcher, TrustedSet, MAX_ROOT_ROTATIONS};
pub use metadata::{
    format_expires, metadata_common, parse_expires, parse_role, Common, Envelope, Key, MetaFile,
    Role, RoleKeys, Root, Signature, Snapshot, TargetFile, Targets, Timestamp, SPEC_VERSION,
};

/// Why metadata or a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Well-formed JSON that breaks a TUF rule.
    #[error("invalid metadata: {0}")]
    Metadata(String),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// Fewer valid signatures from the role's keys than its threshold.
    #[error(
        "{role} has {valid} valid signature(s) from {signer}'s keys; the threshold is {threshold}"
    )]
    Threshold {
        role: String,
        signer: String,
        valid: usize,
        threshold: u64,
    },
    #[error("{role} version {version} expired at {expires}")]
    Expired {
        role: String,
        version: u64,
        expires: String,
    },
    /// A version lower than the trusted one (a rollback attack).
    #[error("{role} rollback: trusted version {trusted}, new version {new}")]
    Rollback {
        role: String,
        trusted: u64,
        new: u64,
    },
    /// A version other than the one the referring metadata names.
    #[error("{role} version {got}, expected {expected}")]
    Version {
        role: String,
        expected: u64,
        got: u64,
    },
    /// Bytes whose length or hash differ from what signed metadata says
    /// (tampering, or metadata mixed from different repository states).
    #[error("{name}: {what} does not match the signed metadata")]
    Mismatch { name: String, what: String },
    /// The timestamp is the same version as the trusted one (not an error
    /// for a client: nothing changed).
    #[error("{role} version {version} is already trusted")]
    Unchanged { role: String, version: u64 },
    #[error("{0} not found in the repository")]
    NotFound(String),
    #[error("fetching {name}: {msg}")]
    Fetch { name: String, msg: String },
}
