//! Issuance: token → principal → key check → proof of possession →
//! precertificate → CT log → final certificate. The order and the error
//! messages are upstream Fulcio's (`pkg/server/grpc_server.go`), since
//! clients show `message` to users.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use sigstack_core::keys::{HashAlgorithm, PublicKey};
use x509_cert::request::CertReq;

use crate::ca::Ca;
use crate::cert::{self, LeafTemplate};
use crate::config::FulcioConfig;
use crate::identity::{self, IdentityError};
use crate::metrics::Metrics;

/// gRPC status codes used in the error body.
pub const CODE_INVALID_ARGUMENT: i32 = 3;
pub const CODE_INTERNAL: i32 = 13;
pub const CODE_UNAVAILABLE: i32 = 14;
pub const CODE_RESOURCE_EXHAUSTED: i32 = 8;

/// An error as the HTTP gateway returns it: `{"code","message","details":[]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulcioError {
    pub http_status: u16,
    pub code: i32,
    pub message: String,
}

impl FulcioError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        FulcioError {
            http_status: 400,
            code: CODE_INVALID_ARGUMENT,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        FulcioError {
            http_status: 500,
            code: CODE_INTERNAL,
            message: message.into(),
        }
    }
}

pub const MSG_TOKEN: &str = "There was an error processing the identity token";
pub const MSG_CSR: &str = "The certificate signing request could not be parsed";
pub const MSG_KEY: &str = "The public key supplied in the request could not be parsed";
pub const MSG_INSECURE: &str = "The public key supplied in the request is insecure";
pub const MSG_SIGNATURE: &str = "The signature supplied in the request could not be verified";
pub const MSG_CT: &str = "Error entering certificate in CTL";
pub const MSG_CA: &str = "error communicating with CA backend";

/// The key part of a signing request.
pub enum KeyRequest {
    /// `publicKeyRequest`: key content (PEM or DER) and the PoP signature.
    PublicKey { content: Vec<u8>, proof: Vec<u8> },
    /// `certificateSigningRequest`: the PEM CSR text.
    Csr(Vec<u8>),
}

/// Where certificates are logged.
pub struct CtLog {
    pub url: String,
    /// When set, every returned SCT is verified before it is embedded.
    pub public_key: Option<PublicKey>,
    client: reqwest::Client,
}

impl CtLog {
    pub fn new(url: &str, public_key: Option<PublicKey>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(CtLog {
            url: url.trim_end_matches('/').to_string(),
            public_key,
            client,
        })
    }

    async fn add_pre_chain(&self, chain: &[&[u8]]) -> Result<sigstack_core::ct::Sct, String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({
            "chain": chain.iter().map(|c| b64.encode(c)).collect::<Vec<_>>()
        });
        let resp = self
            .client
            .post(format!("{}/ct/v1/add-pre-chain", self.url))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("CT log unreachable: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "CT log answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ));
        }
        sigstack_core::ct::Sct::from_add_chain_response(&bytes).map_err(|e| e.to_string())
    }
}

pub struct Fulcio {
    pub config: FulcioConfig,
    pub verifier: sigstack_oidc::Verifier,
    pub ca: Ca,
    pub ct: CtLog,
    pub metrics: Arc<Metrics>,
}

impl Fulcio {
    /// `CreateSigningCertificate`: returns the chain as DER, leaf first.
    pub async fn create_signing_certificate(
        &self,
        token: &str,
        key: KeyRequest,
    ) -> Result<Vec<Vec<u8>>, FulcioError> {
        let result = self.issue(token, key).await;
        self.metrics.issuance(match &result {
            Ok(_) => "issued",
            Err(e) if e.http_status < 500 => "rejected",
            Err(_) => "error",
        });
        result
    }

    async fn issue(&self, token: &str, key: KeyRequest) -> Result<Vec<Vec<u8>>, FulcioError> {
        // 1. Authenticate the token and build the principal.
        let token_err = |detail: String| {
            tracing::info!(reason = %detail, "identity token refused");
            FulcioError::bad_request(MSG_TOKEN)
        };
        if token.is_empty() {
            return Err(token_err("no token".into()));
        }
        // Decoded once: its unverified `iss` routes it to the issuer that verifies it.
        let parsed = sigstack_oidc::Token::parse(token).map_err(|e| token_err(e.to_string()))?;
        let iss = parsed
            .unverified_issuer()
            .map_err(|e| token_err(e.to_string()))?;
        let issuer = self
            .config
            .issuer(iss)
            .ok_or_else(|| token_err(format!("unknown issuer {iss:?}")))?;
        let claims = self
            .verifier
            .verify_parsed(parsed, &issuer.url, &issuer.spec.client_id)
            .await
            .map_err(|e| token_err(e.to_string()))?;
        let principal =
            identity::principal(&self.config, &issuer, &claims).map_err(|e| match e {
                IdentityError::Claims(m) => token_err(m),
                IdentityError::Template(m) => FulcioError::bad_request(m),
            })?;

        // 2. Parse the key or CSR, 3. weak-key check, 4. PoP / CSR signature, 5. allow-list.
        let spki_der = match key {
            KeyRequest::PublicKey { content, proof } => {
                let pk = parse_public_key(&content)?;
                check_key_policy(&pk)?;
                pk.verify_message(principal.name.as_bytes(), &proof)
                    .map_err(|_| FulcioError::bad_request(MSG_SIGNATURE))?;
                pk.to_spki_der()
            }
            KeyRequest::Csr(pem) => {
                let (pk, hash) = parse_and_verify_csr(&pem)?;
                if hash != pk.default_hash() {
                    return Err(FulcioError::bad_request(format!(
                        "signing algorithm not permitted: {}, {}",
                        pk.algorithm_name(),
                        hash_name(hash)
                    )));
                }
                pk.to_spki_der()
            }
        };

        // 6. Build the precertificate, 7. log it, 8. sign the final certificate.
        let template = LeafTemplate::new(
            spki_der,
            principal.san,
            principal.extensions,
            SystemTime::now(),
        )
        .map_err(|e| FulcioError::bad_request(e.to_string()))?;
        let issuer_ca = self.ca.issuer();
        let signing_err = |e: crate::cert::CertError| {
            tracing::error!(error = %e, "certificate signing failed");
            FulcioError::internal(MSG_CA)
        };
        // One TBS for both certificates; `tbs` is also what the SCT signs.
        let leaf = template.prepare(&issuer_ca).map_err(signing_err)?;
        let (precert, tbs) = leaf.precertificate().map_err(signing_err)?;
        let mut chain: Vec<&[u8]> = vec![&precert];
        chain.extend(self.ca.chain_der().iter().map(Vec::as_slice));
        let sct = self.ct.add_pre_chain(&chain).await.map_err(|e| {
            tracing::error!(error = %e, "CT log submission failed");
            FulcioError::internal(MSG_CT)
        })?;
        if let Some(ct_key) = &self.ct.public_key {
            let entry = sigstack_core::ct::SignedEntry::Precert {
                issuer_key_hash: *self.ca.issuer_key_hash(),
                tbs: &tbs,
            };
            if let Err(e) = sct.verify(&entry, ct_key) {
                tracing::error!(error = %e, "CT log returned an SCT that does not verify");
                return Err(FulcioError::internal(MSG_CT));
            }
        }
        let list = sigstack_core::ct::encode_sct_list(std::slice::from_ref(&sct));
        let leaf = leaf.certificate(&list).map_err(signing_err)?;
        let mut out = vec![leaf];
        out.extend(self.ca.chain_der().iter().cloned());
        Ok(out)
    }
}

fn hash_name(h: HashAlgorithm) -> &'static str {
    match h {
        HashAlgorithm::Sha256 => "SHA-256",
        HashAlgorithm::Sha384 => "SHA-384",
        HashAlgorithm::Sha512 => "SHA-512",
    }
}

/// `publicKey.content`: PEM `PUBLIC KEY` first, then raw DER (upstream `ParsePublicKey`).
pub fn parse_public_key(content: &[u8]) -> Result<PublicKey, FulcioError> {
    if content.is_empty() {
        return Err(FulcioError::bad_request(MSG_KEY));
    }
    use sigstack_core::keys::KeyError;
    let der = match sigstack_core::pem::parse_labeled(content, "PUBLIC KEY") {
        Ok(der) => der,
        Err(_) => content.to_vec(),
    };
    match PublicKey::from_spki_der(&der) {
        Ok(pk) => Ok(pk),
        // A well-formed key of a kind upstream parses but `ValidatePubKey`
        // refuses (P-224, secp256k1, DSA, ...): "insecure", as upstream says.
        Err(KeyError::Unsupported(_)) => Err(FulcioError::bad_request(MSG_INSECURE)),
        Err(_) => Err(FulcioError::bad_request(MSG_KEY)),
    }
}

/// Upstream `cryptoutils.ValidatePubKey`: RSA 2048/3072/4096 with e=65537,
/// ECDSA P-256/384/521, Ed25519. (Curve points were validated when parsed.)
pub fn check_key_policy(pk: &PublicKey) -> Result<(), FulcioError> {
    match pk {
        PublicKey::Rsa(k) => {
            use rsa::traits::PublicKeyParts;
            let bits = k.n().bits();
            let e_ok = k.e() == &rsa::BigUint::from(65537u32);
            if !matches!(bits, 2048 | 3072 | 4096) || !e_ok {
                return Err(FulcioError::bad_request(MSG_INSECURE));
            }
            Ok(())
        }
        PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_) | PublicKey::Ed25519(_) => {
            Ok(())
        }
    }
}

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_ED25519: &str = "1.3.101.112";

/// Parses a PEM CSR, checks its self-signature, returns the key and the hash
/// of the CSR signature (which the allow-list pairs with the key).
pub fn parse_and_verify_csr(pem: &[u8]) -> Result<(PublicKey, HashAlgorithm), FulcioError> {
    use der::{Decode, Encode};
    let block =
        sigstack_core::pem::parse_one_block(pem).map_err(|_| FulcioError::bad_request(MSG_CSR))?;
    if block.label != "CERTIFICATE REQUEST" && block.label != "NEW CERTIFICATE REQUEST" {
        return Err(FulcioError::bad_request(MSG_CSR));
    }
    let csr = CertReq::from_der(&block.contents).map_err(|_| FulcioError::bad_request(MSG_CSR))?;
    let spki = csr
        .info
        .public_key
        .to_der()
        .map_err(|_| FulcioError::bad_request(MSG_CSR))?;
    let pk = PublicKey::from_spki_der(&spki).map_err(|e| match e {
        sigstack_core::keys::KeyError::Unsupported(_) => FulcioError::bad_request(MSG_INSECURE),
        _ => FulcioError::bad_request(MSG_KEY),
    })?;
    check_key_policy(&pk)?;
    let alg = csr.algorithm.oid.to_string();
    let hash = match alg.as_str() {
        OID_ECDSA_SHA256 | OID_RSA_SHA256 => Some(HashAlgorithm::Sha256),
        OID_ECDSA_SHA384 | OID_RSA_SHA384 => Some(HashAlgorithm::Sha384),
        OID_ECDSA_SHA512 | OID_RSA_SHA512 => Some(HashAlgorithm::Sha512),
        OID_ED25519 => None,
        other => {
            return Err(FulcioError::bad_request(format!(
                "unrecognized signature algorithm: {other}"
            )))
        }
    };
    let is_ec = matches!(
        pk,
        PublicKey::P256(_) | PublicKey::P384(_) | PublicKey::P521(_)
    );
    let is_rsa = matches!(pk, PublicKey::Rsa(_));
    let is_ed = matches!(pk, PublicKey::Ed25519(_));
    let family_ok = match alg.as_str() {
        OID_ECDSA_SHA256 | OID_ECDSA_SHA384 | OID_ECDSA_SHA512 => is_ec,
        OID_RSA_SHA256 | OID_RSA_SHA384 | OID_RSA_SHA512 => is_rsa,
        _ => is_ed,
    };
    let info = csr
        .info
        .to_der()
        .map_err(|_| FulcioError::bad_request(MSG_CSR))?;
    let sig = csr
        .signature
        .as_bytes()
        .ok_or_else(|| FulcioError::bad_request(MSG_CSR))?;
    let verified = family_ok
        && match hash {
            Some(h) => pk.verify_message_with(h, &info, sig).is_ok(),
            None => pk.verify_message(&info, sig).is_ok(),
        };
    if !verified {
        return Err(FulcioError::bad_request(MSG_SIGNATURE));
    }
    // Ed25519 pairs with its own (pure) scheme, reported as SHA-512 like upstream.
    Ok((pk, hash.unwrap_or(HashAlgorithm::Sha512)))
}

/// Chain as the v2 JSON reply lists it: PEMs without the trailing newline.
pub fn chain_pems_trimmed(chain: &[Vec<u8>]) -> Vec<String> {
    chain
        .iter()
        .map(|d| cert::to_pem(d).trim().to_string())
        .collect()
}
