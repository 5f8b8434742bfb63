//! `cosign`: a client that is a drop-in for Go cosign v3 (same commands,
//! flags, environment variables and files).
//!
//! This first slice covers keys: `generate-key-pair`, `import-key-pair` and
//! `public-key`, with cosign's encrypted private key format byte-compatible
//! in both directions (see [`keyfile`]).

pub mod blob;
pub mod cli;
pub mod client;
pub mod keyfile;
pub mod keys;
pub mod password;
