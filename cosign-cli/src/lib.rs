//! `cosign`: a client that is a drop-in for Go cosign v3 (same commands,
//! flags, environment variables and files).
//!
//! So far: keys (`generate-key-pair`, `import-key-pair`, `public-key`, with
//! cosign's encrypted key format byte-compatible both ways, see [`keyfile`]),
//! blobs (`sign-blob`, `verify-blob` with Sigstore bundles, keyless and with
//! keys, see [`blob`]) and `initialize` (the TUF-distributed trust material,
//! see [`tuf`]).

pub mod ambient;
pub mod attachments;
pub mod blob;
pub mod cli;
pub mod client;
pub mod envtrust;
pub mod image;
pub mod keyfile;
pub mod keys;
pub mod legacy;
pub mod oauth;
pub mod oci;
pub mod password;
#[cfg(test)]
mod testdata;
pub mod trustcfg;
pub mod tuf;
