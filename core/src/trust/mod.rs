//! Serde models of the Sigstore protobuf-specs JSON documents: the trusted
//! root, the signing config, the client trust config and the bundle
//! (including Rekor's `TransparencyLogEntry`).
//!
//! The JSON is proto3 JSON (the scalar rules are in the private `proto` helpers), read the way
//! Go's `protojson` reads it, because cosign/sigstore-go is the strictest
//! consumer:
//!
//! * unknown fields are errors everywhere (`deny_unknown_fields`);
//! * both the lowerCamelCase JSON names and the original snake_case proto
//!   names are accepted on input (sigstore-python's own test configs mix
//!   them); output always uses lowerCamelCase;
//! * enums are read and written by name only (sigstore-python rejects
//!   numeric enums, so accepting them would let through documents it cannot
//!   read);
//! * `null` reads as "unset".
//!
//! Beyond the proto, a few message fields are required because every client
//! requires them (each is noted on its type), and a few defaults are still
//! written because some client needs the key present (the trusted root's
//! lists, the signing config's lists and service fields, a log entry's
//! `logIndex`). Otherwise default values are omitted, as proto3 JSON does.

pub mod build;
mod bundle;
mod common;
pub(crate) mod proto;
mod trustroot;

#[cfg(test)]
mod tests;

pub use bundle::{
    Bundle, BundleContent, BundleVersion, Checkpoint, Envelope, EnvelopeSignature,
    InclusionPromise, InclusionProof, KindVersion, TimestampVerificationData, TransparencyLogEntry,
    VerificationMaterial, VerificationMaterialContent, BUNDLE_MEDIA_TYPE_V0_1,
    BUNDLE_MEDIA_TYPE_V0_2, BUNDLE_MEDIA_TYPE_V0_3, BUNDLE_MEDIA_TYPE_V0_3_ALT,
    MAX_RFC3161_TIMESTAMPS, MAX_TLOG_ENTRIES,
};
pub use common::{
    DistinguishedName, HashAlgorithm, HashOutput, LogId, MessageSignature, PublicKey,
    PublicKeyDetails, PublicKeyIdentifier, Rfc3161SignedTimestamp, TimeRange, X509Certificate,
    X509CertificateChain,
};
pub use trustroot::{
    select_service, CertificateAuthority, ClientTrustConfig, Service, ServiceConfiguration,
    ServiceSelector, SigningConfig, TransparencyLogInstance, TrustedRoot,
    CLIENT_TRUST_CONFIG_MEDIA_TYPE_V0_1, SIGNING_CONFIG_MEDIA_TYPE_V0_2,
    TRUSTED_ROOT_MEDIA_TYPE_V0_1, TRUSTED_ROOT_MEDIA_TYPE_V0_2,
};

/// Why a trust document was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Not JSON, or JSON of the wrong shape (unknown field, wrong type, bad
    /// base64 or timestamp, missing required field, conflicting oneof).
    #[error("invalid document: {0}")]
    Json(#[from] serde_json::Error),
    /// A media type this stack (and the upstream clients) does not accept.
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// A bundle that parses but breaks a rule every client enforces.
    #[error("invalid bundle: {0}")]
    InvalidBundle(String),
    /// Key or certificate material that cannot go into a trusted root.
    #[error("invalid trust material: {0}")]
    Material(String),
}
