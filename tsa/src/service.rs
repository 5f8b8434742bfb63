//! The TSA as plain functions: validate a request, stamp it, count it.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::oid::ObjectIdentifier;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use sigstack_core::keys::HashAlgorithm;
use sigstack_core::tsp::{Rejection, StampParams, TimeStampRequest, TsaIdentity};
use time::OffsetDateTime;

use crate::signer::TsaKey;

/// Upstream's default policy (`--default-policy-oid`), the Sigstore TSA arc.
pub const DEFAULT_POLICY_OID: &str = "1.3.6.1.4.1.57264.2";
/// Upstream's cap on the JSON request form (`maxJSONRequestBytes`).
pub const MAX_JSON_REQUEST_BYTES: usize = 1024;

/// Why a request got no timestamp. Messages are upstream's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("{}", rejection_message(.0))]
    Rejected(Rejection),
    #[error("timestamp request is too large")]
    TooLarge,
    #[error("Error generating timestamp response: {0}")]
    BadJson(String),
    #[error("Error signing timestamp response: {0}")]
    Sign(String),
    #[error("TSA configuration: {0}")]
    Config(String),
}

fn rejection_message(r: &Rejection) -> String {
    match r {
        Rejection::BadAlg(a) if a.contains("SHA-1") => {
            "Weak hash algorithm in timestamp request".into()
        }
        Rejection::BadAlg(a) => {
            format!("Error generating timestamp response: unsupported hash algorithm {a}")
        }
        Rejection::BadDataFormat(m) if m.contains("message imprint is") => {
            format!("Message digest has incorrect length for specified algorithm ({m})")
        }
        Rejection::UnacceptedPolicy(_) => {
            "unaccepted policy: requested TSA policy is not supported by the TSA".into()
        }
        Rejection::UnacceptedExtension => {
            "unaccepted extension: requested extensions are not supported by the TSA".into()
        }
        other => format!("Error generating timestamp response: {other}"),
    }
}

/// The JSON request form (timestamp-authority `JSONRequest`; sigstore-js
/// sends `artifactHash` and `hashAlgorithm`). Unknown keys are ignored, as
/// Go's decoder does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    artifact_hash: String,
    hash_algorithm: String,
    #[serde(default)]
    certificates: bool,
    #[serde(default)]
    nonce: Option<u64>,
    #[serde(default, rename = "tsaPolicyOID")]
    tsa_policy_oid: Option<String>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Policy settings.
#[derive(Debug, Clone)]
pub struct Policy {
    pub default: ObjectIdentifier,
    /// Policies a request may ask for (the default is always accepted).
    pub accepted: Vec<ObjectIdentifier>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: ObjectIdentifier::new_unwrap(DEFAULT_POLICY_OID),
            accepted: Vec::new(),
        }
    }
}

pub struct Tsa {
    identity: TsaIdentity,
    key: TsaKey,
    policy: Policy,
    /// Serial numbers: 12 random bytes fixed at start, then an 8-byte
    /// counter. Unique without storage (a restart picks a new prefix), and
    /// 160 bits, the RFC 3161 ceiling, like upstream's 20 random bytes.
    serial_prefix: [u8; 12],
    counter: AtomicU64,
    outcomes: Family<OutcomeLabels, Counter>,
    pub(crate) http: sigstack_http::HttpMetrics,
    registry: Registry,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsa")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tsa {
    /// Builds the service; refuses a chain without the timestamping profile
    /// or a key that is not the chain's first certificate's.
    pub fn new(chain_der: Vec<Vec<u8>>, key: TsaKey, policy: Policy) -> Result<Self, TsaError> {
        let identity = TsaIdentity::new(chain_der).map_err(|e| TsaError::Config(e.to_string()))?;
        if *identity.public_key() != key.public_key() {
            return Err(TsaError::Config(
                "the signing key does not match the first certificate of the chain".into(),
            ));
        }
        let mut serial_prefix = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut serial_prefix);
        // First byte 0x40..=0x7f: positive and never trimmed, so every serial
        // is exactly 20 content bytes.
        serial_prefix[0] = (serial_prefix[0] & 0x3f) | 0x40;
        let mut registry = Registry::with_prefix("tsa");
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "timestamps",
            "Timestamp requests by outcome (issued, rejected, error)",
            outcomes.clone(),
        );
        let http = sigstack_http::HttpMetrics::register(&mut registry);
        Ok(Tsa {
            identity,
            key,
            policy,
            serial_prefix,
            counter: AtomicU64::new(0),
            outcomes,
            http,
            registry,
        })
    }

    /// A development TSA: a new key and chain at every start.
    pub fn ephemeral() -> Result<Self, TsaError> {
        let key = sigstack_core::keys::SigningKey::generate_p256();
        let created = crate::certs::create_chain(
            "sigstack",
            "sigstack-tsa",
            std::time::Duration::from_secs(10 * 365 * 86400),
            &key.public_key(),
        )
        .map_err(|e| TsaError::Config(e.to_string()))?;
        Tsa::new(created.chain_der, TsaKey::Memory(key), Policy::default())
    }

    /// Gives the key back (to rebuild the service with other settings).
    pub fn into_key(self) -> TsaKey {
        self.key
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn chain_der(&self) -> &[Vec<u8>] {
        self.identity.chain_der()
    }

    /// The chain as `/api/v1/timestamp/certchain` serves it: PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain_der()
            .iter()
            .map(|d| sigstack_core::pem::encode("CERTIFICATE", d))
            .collect()
    }

    /// A DER `TimeStampReq` in, a DER `TimeStampResp` out.
    pub fn timestamp_der(&self, body: &[u8]) -> Result<Vec<u8>, TsaError> {
        let req = TimeStampRequest::from_der(body).map_err(TsaError::Rejected);
        self.finish(req)
    }

    /// The JSON form in, a DER `TimeStampResp` out.
    pub fn timestamp_json(&self, body: &[u8]) -> Result<Vec<u8>, TsaError> {
        let req = if body.len() > MAX_JSON_REQUEST_BYTES {
            Err(TsaError::TooLarge)
        } else {
            parse_json(body)
        };
        self.finish(req)
    }

    fn finish(&self, req: Result<TimeStampRequest, TsaError>) -> Result<Vec<u8>, TsaError> {
        let out = req.and_then(|r| self.stamp(&r));
        let outcome = match &out {
            Ok(_) => "issued",
            Err(TsaError::Sign(_) | TsaError::Config(_)) => "error",
            Err(_) => "rejected",
        };
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if let Err(TsaError::Sign(e)) = &out {
            tracing::error!(error = %e, "signing a timestamp failed");
        }
        out
    }

    /// Stamps a validated request.
    pub fn stamp(&self, req: &TimeStampRequest) -> Result<Vec<u8>, TsaError> {
        let policy = match &req.policy {
            None => &self.policy.default,
            Some(p) if *p == self.policy.default || self.policy.accepted.contains(p) => p,
            Some(p) => {
                return Err(TsaError::Rejected(Rejection::UnacceptedPolicy(
                    p.to_string(),
                )))
            }
        };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut serial = [0u8; 20];
        serial[..12].copy_from_slice(&self.serial_prefix);
        serial[12..].copy_from_slice(&n.to_be_bytes());
        let params = StampParams {
            policy,
            serial: &serial,
            gen_time: OffsetDateTime::now_utc(),
            accuracy: Some((1, 0, 0)),
        };
        self.identity
            .stamp(req, &params, |m| self.key.sign(m))
            .map_err(TsaError::Sign)
    }
}

fn parse_json(body: &[u8]) -> Result<TimeStampRequest, TsaError> {
    let j: JsonRequest =
        serde_json::from_slice(body).map_err(|e| TsaError::BadJson(e.to_string()))?;
    let hash = match j.hash_algorithm.to_ascii_lowercase().as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        "sha1" => {
            return Err(TsaError::Rejected(Rejection::BadAlg(
                "SHA-1 is a weak hash".into(),
            )))
        }
        other => return Err(TsaError::Rejected(Rejection::BadAlg(format!("{other:?}")))),
    };
    let digest = STANDARD
        .decode(j.artifact_hash.as_bytes())
        .map_err(|e| TsaError::BadJson(format!("artifactHash is not base64: {e}")))?;
    if digest.len() != hash.digest_len() {
        return Err(TsaError::Rejected(Rejection::BadDataFormat(format!(
            "the message imprint is {} bytes, {} needs {}",
            digest.len(),
            hash.rekor_name(),
            hash.digest_len()
        ))));
    }
    let policy = match j.tsa_policy_oid.filter(|s| !s.is_empty()) {
        Some(s) => Some(
            ObjectIdentifier::new(&s)
                .map_err(|e| TsaError::BadJson(format!("tsaPolicyOID {s:?}: {e}")))?,
        ),
        None => None,
    };
    Ok(TimeStampRequest {
        hash,
        hashed_message: digest,
        policy,
        nonce: j.nonce.map(|n| {
            let b = n.to_be_bytes();
            let start = b.iter().take_while(|&&x| x == 0).count();
            b[start..].to_vec()
        }),
        cert_req: j.certificates,
        hash_params_null: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstack_core::trust::{
        CertificateAuthority, DistinguishedName, TimeRange, X509Certificate, X509CertificateChain,
    };
    use sigstack_core::tsp;

    fn authority(tsa: &Tsa) -> CertificateAuthority {
        CertificateAuthority {
            subject: DistinguishedName {
                organization: "sigstack".into(),
                common_name: "sigstack-tsa".into(),
            },
            uri: String::new(),
            cert_chain: X509CertificateChain {
                certificates: tsa
                    .chain_der()
                    .iter()
                    .map(|d| X509Certificate {
                        raw_bytes: d.clone(),
                    })
                    .collect(),
            },
            valid_for: TimeRange {
                start: OffsetDateTime::UNIX_EPOCH,
                end: None,
            },
            operator: String::new(),
        }
    }

    #[test]
    fn der_and_json_requests_are_stamped_and_verify() {
        let tsa = Tsa::ephemeral().unwrap();
        let trusted = [authority(&tsa)];
        let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"signature");
        let resp = tsa.timestamp_der(&req.to_der()).unwrap();
        tsp::verify_timestamp(&resp, b"signature", &trusted, req.nonce.as_deref()).unwrap();
        let digest = HashAlgorithm::Sha384.digest(b"signature");
        let json = format!(
            r#"{{"artifactHash":"{}","hashAlgorithm":"sha384","nonce":42,"extra":1}}"#,
            STANDARD.encode(&digest)
        );
        let resp = tsa.timestamp_json(json.as_bytes()).unwrap();
        let v = tsp::verify_timestamp(&resp, b"signature", &trusted, Some(&[42])).unwrap();
        assert_eq!(v.tst_info.hash, HashAlgorithm::Sha384);
        // Serial numbers differ from stamp to stamp.
        let again = tsa.timestamp_json(json.as_bytes()).unwrap();
        let v2 = tsp::verify_timestamp(&again, b"signature", &trusted, None).unwrap();
        assert_ne!(v.tst_info.serial, v2.tst_info.serial);
        assert_eq!(v.tst_info.serial.len(), 20);
    }

    #[test]
    fn bad_requests_are_refused_with_upstream_messages() {
        let tsa = Tsa::ephemeral().unwrap();
        let msg = |r: Result<Vec<u8>, TsaError>| r.unwrap_err().to_string();
        let d = STANDARD.encode([0u8; 32]);
        assert_eq!(
            msg(tsa.timestamp_json(
                format!(r#"{{"artifactHash":"{d}","hashAlgorithm":"sha1"}}"#).as_bytes()
            )),
            "Weak hash algorithm in timestamp request"
        );
        assert!(msg(tsa.timestamp_json(
            format!(r#"{{"artifactHash":"{d}","hashAlgorithm":"sha512"}}"#).as_bytes()
        ))
        .starts_with("Message digest has incorrect length"));
        assert!(
            msg(tsa.timestamp_json(br#"{"artifactHash":"***","hashAlgorithm":"sha256"}"#))
                .contains("base64")
        );
        assert!(msg(tsa.timestamp_json(b"{")).starts_with("Error generating timestamp response"));
        assert_eq!(
            msg(tsa.timestamp_json(&vec![b' '; 2000])),
            "timestamp request is too large"
        );
        let policy = format!(
            r#"{{"artifactHash":"{d}","hashAlgorithm":"sha256","tsaPolicyOID":"1.2.3.4"}}"#
        );
        assert!(msg(tsa.timestamp_json(policy.as_bytes())).starts_with("unaccepted policy"));
        let default_policy = format!(
            r#"{{"artifactHash":"{d}","hashAlgorithm":"sha256","tsaPolicyOID":"{DEFAULT_POLICY_OID}"}}"#
        );
        tsa.timestamp_json(default_policy.as_bytes()).unwrap();
        assert!(msg(tsa.timestamp_der(b"\x30\x00")).starts_with("Error generating"));
    }

    #[test]
    fn refuses_a_key_that_is_not_the_certificates() {
        let key = sigstack_core::keys::SigningKey::generate_p256();
        let other = sigstack_core::keys::SigningKey::generate_p256();
        let created = crate::certs::create_chain(
            "o",
            "c",
            std::time::Duration::from_secs(3600),
            &key.public_key(),
        )
        .unwrap();
        let err =
            Tsa::new(created.chain_der, TsaKey::Memory(other), Policy::default()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
