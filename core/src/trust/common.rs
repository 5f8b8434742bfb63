//! `dev.sigstore.common.v1` messages (protobuf-specs `sigstore_common.proto`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::proto::{self, nullable};

/// `dev.sigstore.common.v1.HashAlgorithm`, written by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum HashAlgorithm {
    #[default]
    #[serde(rename = "HASH_ALGORITHM_UNSPECIFIED")]
    Unspecified,
    #[serde(rename = "SHA2_256")]
    Sha2_256,
    #[serde(rename = "SHA2_384")]
    Sha2_384,
    #[serde(rename = "SHA2_512")]
    Sha2_512,
    /// Deprecated upstream; kept so that old documents still parse.
    #[serde(rename = "SHA3_256")]
    Sha3_256,
    /// Deprecated upstream; kept so that old documents still parse.
    #[serde(rename = "SHA3_384")]
    Sha3_384,
}

/// `dev.sigstore.common.v1.PublicKeyDetails`: key type plus signature
/// algorithm, written by name. Every name protobuf-specs defines is accepted,
/// deprecated ones included, so that a document another client wrote never
/// fails to parse here merely for naming an algorithm we do not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum PublicKeyDetails {
    #[default]
    #[serde(rename = "PUBLIC_KEY_DETAILS_UNSPECIFIED")]
    Unspecified,
    PKCS1_RSA_PKCS1V5,
    PKCS1_RSA_PSS,
    PKIX_RSA_PKCS1V5,
    PKIX_RSA_PSS,
    PKIX_RSA_PKCS1V15_2048_SHA256,
    PKIX_RSA_PKCS1V15_3072_SHA256,
    PKIX_RSA_PKCS1V15_4096_SHA256,
    PKIX_RSA_PSS_2048_SHA256,
    PKIX_RSA_PSS_3072_SHA256,
    PKIX_RSA_PSS_4096_SHA256,
    PKIX_ECDSA_P256_HMAC_SHA_256,
    PKIX_ECDSA_P256_SHA_256,
    PKIX_ECDSA_P384_SHA_384,
    PKIX_ECDSA_P521_SHA_512,
    PKIX_ED25519,
    PKIX_ED25519_PH,
    PKIX_ECDSA_P384_SHA_256,
    PKIX_ECDSA_P521_SHA_256,
    LMS_SHA256,
    LMOTS_SHA256,
    ML_DSA_44,
    ML_DSA_65,
    ML_DSA_87,
}

impl From<crate::keys::HashAlgorithm> for HashAlgorithm {
    fn from(a: crate::keys::HashAlgorithm) -> Self {
        match a {
            crate::keys::HashAlgorithm::Sha256 => HashAlgorithm::Sha2_256,
            crate::keys::HashAlgorithm::Sha384 => HashAlgorithm::Sha2_384,
            crate::keys::HashAlgorithm::Sha512 => HashAlgorithm::Sha2_512,
        }
    }
}

impl HashAlgorithm {
    /// The algorithm as the signature code knows it; `None` for the ones
    /// no client signs with (unspecified, SHA-3).
    pub fn to_keys(self) -> Option<crate::keys::HashAlgorithm> {
        match self {
            HashAlgorithm::Sha2_256 => Some(crate::keys::HashAlgorithm::Sha256),
            HashAlgorithm::Sha2_384 => Some(crate::keys::HashAlgorithm::Sha384),
            HashAlgorithm::Sha2_512 => Some(crate::keys::HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// A digest and the algorithm that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HashOutput {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "proto::is_default"
    )]
    pub algorithm: HashAlgorithm,
    #[serde(default, with = "proto::bytes", skip_serializing_if = "Vec::is_empty")]
    pub digest: Vec<u8>,
}

/// A signature over an artifact's digest (the hashedrekord case).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageSignature {
    #[serde(
        default,
        alias = "message_digest",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_digest: Option<HashOutput>,
    #[serde(default, with = "proto::bytes", skip_serializing_if = "Vec::is_empty")]
    pub signature: Vec<u8>,
}

/// A log identifier: for Rekor v1 and CT logs `SHA-256(SPKI DER)`; for a
/// tiles log the C2SP key ID of its checkpoint key (see `note`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogId {
    #[serde(
        default,
        alias = "key_id",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub key_id: Vec<u8>,
}

/// The DER-encoded RFC 3161 `TimeStampResponse` a TSA returned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rfc3161SignedTimestamp {
    #[serde(
        default,
        alias = "signed_timestamp",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signed_timestamp: Vec<u8>,
}

/// A public key with its algorithm and validity.
///
/// `raw_bytes` is DER SubjectPublicKeyInfo except for the deprecated
/// `PKCS1_RSA_*` details. `valid_for` is optional in the proto, but
/// sigstore-go rejects a trusted-root log key without `validFor.start`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicKey {
    #[serde(
        default,
        alias = "raw_bytes",
        with = "proto::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub raw_bytes: Option<Vec<u8>>,
    #[serde(
        default,
        alias = "key_details",
        deserialize_with = "nullable",
        skip_serializing_if = "proto::is_default"
    )]
    pub key_details: PublicKeyDetails,
    #[serde(default, alias = "valid_for", skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
}

/// A bundle's reference to a key the verifier already has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicKeyIdentifier {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub hint: String,
}

/// The subject of a CA or TSA entry. sigstore-python requires both fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DistinguishedName {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub organization: String,
    #[serde(
        default,
        alias = "common_name",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub common_name: String,
}

/// One DER certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct X509Certificate {
    #[serde(
        default,
        alias = "raw_bytes",
        with = "proto::bytes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub raw_bytes: Vec<u8>,
}

/// Certificates ordered from the one nearest the leaf to the trust anchor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct X509CertificateChain {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub certificates: Vec<X509Certificate>,
}

/// A validity window, inclusive at both ends; no `end` means still valid.
///
/// `start` is required here: every client that consults a range needs it
/// (sigstore-go fails the whole trusted root without it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeRange {
    #[serde(with = "proto::timestamp")]
    pub start: OffsetDateTime,
    #[serde(
        default,
        with = "proto::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<OffsetDateTime>,
}

impl TimeRange {
    /// Whether `t` lies inside the range (both ends inclusive).
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}
