//! Formats and verification shared by every service and the client.
//!
//! Nothing here does I/O: each module is a pure function of its inputs, so the
//! servers, the CLI and the tests share one implementation of every byte-level
//! rule (canonical JSON, PEM, signed notes, RFC 6962 proofs and CT
//! structures, key IDs).

pub mod ct;
pub mod jcs;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod pem;
pub mod rekor_v2;
pub mod trust;
pub mod tsp;
pub mod tuf;
pub mod verify;
