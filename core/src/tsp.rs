//! RFC 3161 time-stamp protocol: requests, responses, tokens (CMS
//! SignedData over a TSTInfo, RFC 5652 / RFC 5816), for the TSA that issues
//! them and the clients that verify them against `timestampAuthorities`.
//!
//! Issuing ([`TsaIdentity::stamp`]): everything that depends only on the TSA
//! certificate (the signer identifier, the ESS signing-certificate-v2
//! attribute, the certificate set) is encoded once when the identity is
//! built; a stamp then encodes a TSTInfo of about a hundred bytes, the signed
//! attributes, and makes one signature.
//!
//! Verifying ([`verify_timestamp`]), as the upstream clients do (sigstore-go
//! through timestamp-authority's `VerifyTimestampResponse`, rfc3161-client in
//! sigstore-python, `@sigstore/core` in sigstore-js): status granted; the
//! message imprint is the hash of exactly the signed bytes; the signed
//! attributes carry the TSTInfo content type and its digest; the signer
//! certificate (embedded, or the first of the TSA's chain) matches the
//! SignerInfo's identifier, carries the critical timeStamping EKU and nothing
//! else, chains to the TSA's chain, and every certificate and the TSA's
//! `validFor` window cover the stamped time; the ESS signing certificate
//! attribute, when present, names that certificate.
//!
//! The signatures are checked over the received bytes, never a re-encoding:
//! see [`asn1`].

pub mod asn1;

use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::keys::{self, HashAlgorithm, PublicKey};
use crate::trust::CertificateAuthority;
use asn1::Tlv;

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

pub const OID_SHA1: ObjectIdentifier = oid("1.3.14.3.2.26");
pub const OID_SHA256: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.1");
pub const OID_SHA384: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.2");
pub const OID_SHA512: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.3");
pub const OID_SIGNED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.2");
pub const OID_CT_TST_INFO: ObjectIdentifier = oid("1.2.840.113549.1.9.16.1.4");
pub const OID_ATTR_CONTENT_TYPE: ObjectIdentifier = oid("1.2.840.113549.1.9.3");
pub const OID_ATTR_MESSAGE_DIGEST: ObjectIdentifier = oid("1.2.840.113549.1.9.4");
pub const OID_ATTR_SIGNING_TIME: ObjectIdentifier = oid("1.2.840.113549.1.9.5");
pub const OID_ATTR_SIGNING_CERTIFICATE: ObjectIdentifier = oid("1.2.840.113549.1.9.16.2.12");
pub const OID_ATTR_SIGNING_CERTIFICATE_V2: ObjectIdentifier = oid("1.2.840.113549.1.9.16.2.47");
pub const OID_ECDSA_SHA256: ObjectIdentifier = oid("1.2.840.10045.4.3.2");
pub const OID_ECDSA_SHA384: ObjectIdentifier = oid("1.2.840.10045.4.3.3");
pub const OID_ECDSA_SHA512: ObjectIdentifier = oid("1.2.840.10045.4.3.4");
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = oid("1.2.840.10045.2.1");
pub const OID_RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.1");
pub const OID_RSA_SHA256: ObjectIdentifier = oid("1.2.840.113549.1.1.11");
pub const OID_RSA_SHA384: ObjectIdentifier = oid("1.2.840.113549.1.1.12");
pub const OID_RSA_SHA512: ObjectIdentifier = oid("1.2.840.113549.1.1.13");
pub const OID_ED25519: ObjectIdentifier = oid("1.3.101.112");
pub const OID_EKU: ObjectIdentifier = oid("2.5.29.37");
pub const OID_EKU_TIME_STAMPING: ObjectIdentifier = oid("1.3.6.1.5.5.7.3.8");
pub const OID_EKU_ANY: ObjectIdentifier = oid("2.5.29.37.0");
pub const OID_SKI: ObjectIdentifier = oid("2.5.29.14");
pub const OID_BASIC_CONSTRAINTS: ObjectIdentifier = oid("2.5.29.19");

/// Why a request is refused, as the `PKIFailureInfo` bit it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("unsupported hash algorithm: {0}")]
    BadAlg(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("malformed request: {0}")]
    BadDataFormat(String),
    #[error("unaccepted policy: {0}")]
    UnacceptedPolicy(String),
    #[error("unaccepted extension")]
    UnacceptedExtension,
}

impl Rejection {
    /// The `PKIFailureInfo` bit number (RFC 3161 section 2.4.2).
    pub fn fail_bit(&self) -> u8 {
        match self {
            Rejection::BadAlg(_) => 0,
            Rejection::BadRequest(_) => 2,
            Rejection::BadDataFormat(_) => 5,
            Rejection::UnacceptedPolicy(_) => 15,
            Rejection::UnacceptedExtension => 16,
        }
    }
}

/// Why a timestamp did not verify, or could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TspError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, TspError> {
    Err(TspError(msg.into()))
}

impl From<asn1::Asn1Error> for TspError {
    fn from(e: asn1::Asn1Error) -> Self {
        TspError(e.0)
    }
}

pub fn hash_oid(alg: HashAlgorithm) -> ObjectIdentifier {
    match alg {
        HashAlgorithm::Sha256 => OID_SHA256,
        HashAlgorithm::Sha384 => OID_SHA384,
        HashAlgorithm::Sha512 => OID_SHA512,
    }
}

fn hash_from_oid(o: &ObjectIdentifier) -> Option<HashAlgorithm> {
    match *o {
        OID_SHA256 => Some(HashAlgorithm::Sha256),
        OID_SHA384 => Some(HashAlgorithm::Sha384),
        OID_SHA512 => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

fn parse_oid(t: &Tlv<'_>, what: &str) -> Result<ObjectIdentifier, TspError> {
    let bytes = asn1::oid_bytes(t).map_err(|e| TspError(format!("{what}: {e}")))?;
    ObjectIdentifier::from_bytes(bytes).map_err(|e| TspError(format!("{what}: {e}")))
}

fn oid_der(o: &ObjectIdentifier) -> Vec<u8> {
    asn1::oid(o.as_bytes())
}

/// `AlgorithmIdentifier` for a hash, with NULL parameters (as OpenSSL, Bouncy
/// Castle and the Go TSA write them) or none (RFC 5754 2). Readers accept both.
fn hash_alg_id(alg: HashAlgorithm, null_params: bool) -> Vec<u8> {
    if null_params {
        asn1::seq(&[&oid_der(&hash_oid(alg)), &asn1::tlv(asn1::NULL, &[])])
    } else {
        asn1::seq(&[&oid_der(&hash_oid(alg))])
    }
}

/// Reads an `AlgorithmIdentifier`: the OID, with parameters absent or NULL.
fn read_alg_id(t: &Tlv<'_>, what: &str) -> Result<ObjectIdentifier, TspError> {
    read_alg_id_form(t, what).map(|(o, _)| o)
}

/// As [`read_alg_id`], also telling whether the parameters were NULL.
fn read_alg_id_form(t: &Tlv<'_>, what: &str) -> Result<(ObjectIdentifier, bool), TspError> {
    let t = t.expect_tag(asn1::SEQUENCE, what)?;
    let mut r = t.reader();
    let o = parse_oid(&r.expect(asn1::OID, what)?, what)?;
    let null = match r.optional(asn1::NULL)? {
        Some(p) if !p.value.is_empty() => return fail(format!("{what}: bad NULL parameters")),
        Some(_) => true,
        None => false,
    };
    r.finish()?;
    Ok((o, null))
}

fn read_hash_alg(t: &Tlv<'_>, what: &str) -> Result<HashAlgorithm, TspError> {
    let o = read_alg_id(t, what)?;
    hash_from_oid(&o).ok_or_else(|| TspError(format!("{what}: unsupported hash algorithm {o}")))
}

/// A hash of `data`, including SHA-1 (ESS signing-certificate v1 only).
fn digest_by_oid(o: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    if *o == OID_SHA1 {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
        return Some(d.as_ref().to_vec());
    }
    hash_from_oid(o).map(|h| h.digest(data))
}

// ---------------------------------------------------------------- requests

/// A `TimeStampReq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStampRequest {
    pub hash: HashAlgorithm,
    pub hashed_message: Vec<u8>,
    pub policy: Option<ObjectIdentifier>,
    /// The nonce's magnitude, big-endian, without leading zeros.
    pub nonce: Option<Vec<u8>>,
    pub cert_req: bool,
    /// Whether the imprint's hash AlgorithmIdentifier has NULL parameters;
    /// the TSTInfo echoes the request's form (RFC 3161 2.4.2: "the same value").
    pub hash_params_null: bool,
}

impl TimeStampRequest {
    /// A request over `data` with a fresh 64-bit nonce and `certReq` set, as
    /// the sigstore clients send.
    pub fn for_data(hash: HashAlgorithm, data: &[u8]) -> Self {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        TimeStampRequest {
            hash,
            hashed_message: hash.digest(data),
            policy: None,
            nonce: Some(trim_magnitude(&nonce)),
            cert_req: true,
            hash_params_null: true,
        }
    }

    pub fn to_der(&self) -> Vec<u8> {
        let imprint = asn1::seq(&[
            &hash_alg_id(self.hash, self.hash_params_null),
            &asn1::octets(&self.hashed_message),
        ]);
        let mut parts = vec![asn1::uint_u64(1), imprint];
        if let Some(p) = &self.policy {
            parts.push(oid_der(p));
        }
        if let Some(n) = &self.nonce {
            parts.push(asn1::uint(n));
        }
        if self.cert_req {
            parts.push(asn1::boolean_der(true));
        }
        asn1::seq(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>())
    }

    /// Parses and validates a DER `TimeStampReq`. Extensions are refused (no
    /// extension is defined that this TSA could honour).
    pub fn from_der(der: &[u8]) -> Result<Self, Rejection> {
        let bad = |e: asn1::Asn1Error| Rejection::BadDataFormat(e.0);
        let top = Tlv::parse(der).map_err(bad)?;
        if top.tag != asn1::SEQUENCE {
            return Err(Rejection::BadDataFormat(
                "TimeStampReq is not a SEQUENCE".into(),
            ));
        }
        let mut r = top.reader();
        let version =
            asn1::integer_u64(&r.expect(asn1::INTEGER, "version").map_err(bad)?).map_err(bad)?;
        if version != 1 {
            return Err(Rejection::BadRequest(format!("version {version}, want 1")));
        }
        let imprint = r.expect(asn1::SEQUENCE, "messageImprint").map_err(bad)?;
        let mut ir = imprint.reader();
        let alg_t = ir.read().map_err(bad)?;
        let (alg, hash_params_null) =
            read_alg_id_form(&alg_t, "hashAlgorithm").map_err(|e| Rejection::BadDataFormat(e.0))?;
        if alg == OID_SHA1 {
            return Err(Rejection::BadAlg("SHA-1 is a weak hash".into()));
        }
        let hash = hash_from_oid(&alg).ok_or_else(|| Rejection::BadAlg(alg.to_string()))?;
        let hashed = ir
            .expect(asn1::OCTET_STRING, "hashedMessage")
            .map_err(bad)?;
        ir.finish().map_err(bad)?;
        if hashed.value.len() != hash.digest_len() {
            return Err(Rejection::BadDataFormat(format!(
                "the message imprint is {} bytes, {} needs {}",
                hashed.value.len(),
                hash.rekor_name(),
                hash.digest_len()
            )));
        }
        let policy = match r.optional(asn1::OID).map_err(bad)? {
            Some(t) => Some(parse_oid(&t, "reqPolicy").map_err(|e| Rejection::BadDataFormat(e.0))?),
            None => None,
        };
        let nonce = match r.optional(asn1::INTEGER).map_err(bad)? {
            Some(t) => {
                let v = asn1::integer_bytes(&t).map_err(bad)?;
                if v[0] & 0x80 != 0 {
                    return Err(Rejection::BadRequest("negative nonce".into()));
                }
                if v.len() > 33 {
                    return Err(Rejection::BadRequest("nonce longer than 256 bits".into()));
                }
                Some(trim_magnitude(v))
            }
            None => None,
        };
        let cert_req = match r.optional(asn1::BOOLEAN).map_err(bad)? {
            Some(t) => {
                let v = asn1::boolean(&t).map_err(bad)?;
                if !v {
                    // DER forbids encoding a DEFAULT value.
                    return Err(Rejection::BadDataFormat(
                        "certReq FALSE must be omitted".into(),
                    ));
                }
                v
            }
            None => false,
        };
        if r.optional(asn1::ctx(0)).map_err(bad)?.is_some() {
            return Err(Rejection::UnacceptedExtension);
        }
        r.finish().map_err(bad)?;
        Ok(TimeStampRequest {
            hash,
            hashed_message: hashed.value.to_vec(),
            policy,
            nonce,
            cert_req,
            hash_params_null,
        })
    }
}

fn trim_magnitude(v: &[u8]) -> Vec<u8> {
    let start = v.iter().take_while(|&&b| b == 0).count();
    v[start..].to_vec()
}

// ---------------------------------------------------------------- issuing

/// The parts of a TSA's tokens that depend only on its certificate chain.
#[derive(Debug, Clone)]
pub struct TsaIdentity {
    /// Signing certificate first, root last (as `/api/v1/timestamp/certchain`
    /// serves it and `timestampAuthorities[].certChain` lists it).
    chain_der: Vec<Vec<u8>>,
    /// `SignerIdentifier`: IssuerAndSerialNumber of the signing certificate.
    sid: Vec<u8>,
    /// The signingCertificateV2 attribute, whole.
    ess_attr: Vec<u8>,
    /// `[0] IMPLICIT CertificateSet` with the signing certificate alone, for
    /// requests with `certReq` (upstream's default; every verifier takes the
    /// leaf from the trusted root anyway, and a multi-certificate SET would
    /// have to be DER-sorted for rfc3161-client).
    cert_set: Vec<u8>,
    /// digestAlgorithm and signatureAlgorithm.
    digest: HashAlgorithm,
    signature_alg: Vec<u8>,
    public_key: PublicKey,
}

impl TsaIdentity {
    /// Checks the chain (the signing certificate has the critical
    /// timeStamping EKU and each certificate is signed by the next) and
    /// precomputes the signer's encodings.
    pub fn new(chain_der: Vec<Vec<u8>>) -> Result<Self, TspError> {
        let certs = chain_der
            .iter()
            .map(|d| {
                Certificate::from_der(d).map_err(|e| TspError(format!("TSA certificate: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let leaf = certs
            .first()
            .ok_or(TspError("empty TSA certificate chain".into()))?;
        check_tsa_eku(leaf)?;
        for (i, c) in certs.iter().enumerate().skip(1) {
            let key = keys::certificate_public_key(c).map_err(|e| TspError(e.to_string()))?;
            keys::verify_certificate_signature(&certs[i - 1], &key).map_err(|_| {
                TspError(format!(
                    "TSA chain certificate {} is not signed by certificate {i} (order must be signing certificate first, root last)",
                    i - 1
                ))
            })?;
        }
        let public_key = keys::certificate_public_key(leaf).map_err(|e| TspError(e.to_string()))?;
        let (digest, sig_oid) = match &public_key {
            PublicKey::P256(_) => (HashAlgorithm::Sha256, OID_ECDSA_SHA256),
            PublicKey::P384(_) => (HashAlgorithm::Sha384, OID_ECDSA_SHA384),
            PublicKey::P521(_) => (HashAlgorithm::Sha512, OID_ECDSA_SHA512),
            PublicKey::Rsa(_) => (HashAlgorithm::Sha256, OID_RSA_SHA256),
            PublicKey::Ed25519(_) => {
                return fail("Ed25519 TSA keys are not accepted by the sigstore clients");
            }
        };
        let issuer = leaf
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|e| TspError(e.to_string()))?;
        let serial = asn1::tlv(asn1::INTEGER, leaf.tbs_certificate.serial_number.as_bytes());
        let sid = asn1::seq(&[&issuer, &serial]);
        // ESSCertIDv2 { certHash (SHA-256, the DEFAULT algorithm so omitted),
        // issuerSerial { GeneralNames { directoryName [4] }, serial } }.
        let cert_hash = HashAlgorithm::Sha256.digest(&chain_der[0]);
        let general_names = asn1::seq(&[&asn1::cons(asn1::ctx(4), &[&issuer])]);
        let issuer_serial = asn1::seq(&[&general_names, &serial]);
        let ess_cert_id = asn1::seq(&[&asn1::octets(&cert_hash), &issuer_serial]);
        let signing_cert_v2 = asn1::seq(&[&asn1::seq(&[&ess_cert_id])]);
        let ess_attr = attribute(&OID_ATTR_SIGNING_CERTIFICATE_V2, &signing_cert_v2);
        let kept = chain_der.len().saturating_sub(1).max(1);
        let cert_set = asn1::cons(
            asn1::ctx(0),
            &chain_der[..kept]
                .iter()
                .map(Vec::as_slice)
                .collect::<Vec<_>>(),
        );
        Ok(TsaIdentity {
            signature_alg: asn1::seq(&[&oid_der(&sig_oid)]),
            chain_der,
            sid,
            ess_attr,
            cert_set,
            digest,
            public_key,
        })
    }

    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Issues a granted `TimeStampResp` for `req`. `sign` signs a message
    /// with the signing certificate's key (ECDSA with this identity's hash,
    /// DER signature; or RSA PKCS#1 v1.5 SHA-256).
    pub fn stamp<E>(
        &self,
        req: &TimeStampRequest,
        params: &StampParams<'_>,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        let tst_info = tst_info_der(req, params);
        let attrs = vec![
            attribute(&OID_ATTR_CONTENT_TYPE, &oid_der(&OID_CT_TST_INFO)),
            attribute(&OID_ATTR_SIGNING_TIME, &asn1::utc_time(params.gen_time)),
            attribute(
                &OID_ATTR_MESSAGE_DIGEST,
                &asn1::octets(&self.digest.digest(&tst_info)),
            ),
            self.ess_attr.clone(),
        ];
        // Signed as a SET OF; carried as [0] IMPLICIT with the same contents.
        let signed_set = asn1::set_of(attrs);
        let signature = sign(&signed_set)?;
        let mut signed_attrs = signed_set;
        signed_attrs[0] = asn1::ctx(0);
        let digest_alg = hash_alg_id(self.digest, true);
        let signer_info = asn1::seq(&[
            &asn1::uint_u64(1),
            &self.sid,
            &digest_alg,
            &signed_attrs,
            &self.signature_alg,
            &asn1::octets(&signature),
        ]);
        let encap = asn1::seq(&[
            &oid_der(&OID_CT_TST_INFO),
            &asn1::cons(asn1::ctx(0), &[&asn1::octets(&tst_info)]),
        ]);
        let digest_algs = asn1::set_of(vec![digest_alg.clone()]);
        let certs: &[u8] = if req.cert_req { &self.cert_set } else { &[] };
        let signer_infos = asn1::set_of(vec![signer_info]);
        let signed_data = asn1::seq(&[
            &asn1::uint_u64(3),
            &digest_algs,
            &encap,
            certs,
            &signer_infos,
        ]);
        let token = asn1::seq(&[
            &oid_der(&OID_SIGNED_DATA),
            &asn1::cons(asn1::ctx(0), &[&signed_data]),
        ]);
        let status = asn1::seq(&[&asn1::uint_u64(0)]);
        Ok(asn1::seq(&[&status, &token]))
    }
}

/// The per-stamp values a TSA chooses.
#[derive(Debug, Clone)]
pub struct StampParams<'a> {
    pub policy: &'a ObjectIdentifier,
    /// Serial number magnitude (unique per TSA; at most 160 bits).
    pub serial: &'a [u8],
    /// Written in whole seconds (truncated), as upstream does: sigstore-js
    /// parses a fraction only if it has exactly three digits, and DER forbids
    /// the trailing zeros that would keep it at three.
    pub gen_time: OffsetDateTime,
    /// `Accuracy` in seconds, milliseconds, microseconds, if stated.
    pub accuracy: Option<(u32, u16, u16)>,
}

fn attribute(o: &ObjectIdentifier, value: &[u8]) -> Vec<u8> {
    asn1::seq(&[&oid_der(o), &asn1::tlv(asn1::SET, value)])
}

fn tst_info_der(req: &TimeStampRequest, p: &StampParams<'_>) -> Vec<u8> {
    let imprint = asn1::seq(&[
        &hash_alg_id(req.hash, req.hash_params_null),
        &asn1::octets(&req.hashed_message),
    ]);
    let mut parts = vec![
        asn1::uint_u64(1),
        oid_der(p.policy),
        imprint,
        asn1::uint(p.serial),
        asn1::generalized_time(p.gen_time),
    ];
    if let Some((s, ms, us)) = p.accuracy {
        let mut acc = Vec::new();
        if s > 0 {
            acc.push(asn1::uint_u64(u64::from(s)));
        }
        if ms > 0 {
            acc.push(asn1::tlv(
                asn1::ctx_prim(0),
                &asn1::uint_u64(u64::from(ms))[2..],
            ));
        }
        if us > 0 {
            acc.push(asn1::tlv(
                asn1::ctx_prim(1),
                &asn1::uint_u64(u64::from(us))[2..],
            ));
        }
        parts.push(asn1::seq(
            &acc.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ));
    }
    if let Some(n) = &req.nonce {
        parts.push(asn1::uint(n));
    }
    asn1::seq(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// A rejection `TimeStampResp` (status 2, with the failure bit and a text).
pub fn rejection_response(r: &Rejection) -> Vec<u8> {
    let bit = r.fail_bit();
    // BIT STRING, named bits: minimal length, unused trailing bits counted.
    let byte_len = usize::from(bit / 8) + 1;
    let mut bits = vec![0u8; byte_len];
    bits[usize::from(bit / 8)] = 0x80 >> (bit % 8);
    let unused = 7 - (bit % 8);
    let mut content = vec![unused];
    content.extend_from_slice(&bits);
    let text = r.to_string();
    let status = asn1::seq(&[
        &asn1::uint_u64(2),
        &asn1::seq(&[&asn1::tlv(asn1::UTF8_STRING, text.as_bytes())]),
        &asn1::tlv(asn1::BIT_STRING, &content),
    ]);
    asn1::seq(&[&status])
}

// ---------------------------------------------------------------- parsing

/// The fields of a `TSTInfo` that verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    pub policy: ObjectIdentifier,
    pub hash: HashAlgorithm,
    pub hashed_message: Vec<u8>,
    pub serial: Vec<u8>,
    /// genTime, Unix nanoseconds.
    pub gen_time_nanos: i128,
    pub nonce: Option<Vec<u8>>,
}

impl TstInfo {
    pub fn gen_time(&self) -> Result<OffsetDateTime, TspError> {
        OffsetDateTime::from_unix_timestamp_nanos(self.gen_time_nanos)
            .map_err(|_| TspError("genTime out of range".into()))
    }
}

fn parse_tst_info(der: &[u8]) -> Result<TstInfo, TspError> {
    let top = Tlv::parse(der)?.expect_tag(asn1::SEQUENCE, "TSTInfo")?;
    let mut r = top.reader();
    if asn1::integer_u64(&r.expect(asn1::INTEGER, "TSTInfo version")?)? != 1 {
        return fail("TSTInfo version is not 1");
    }
    let policy = parse_oid(&r.expect(asn1::OID, "TSTInfo policy")?, "TSTInfo policy")?;
    let imprint = r.expect(asn1::SEQUENCE, "messageImprint")?;
    let mut ir = imprint.reader();
    let hash = read_hash_alg(&ir.read()?, "messageImprint hashAlgorithm")?;
    let hashed = ir.expect(asn1::OCTET_STRING, "hashedMessage")?;
    ir.finish()?;
    let serial = asn1::integer_bytes(&r.expect(asn1::INTEGER, "serialNumber")?)?.to_vec();
    let gen_time_nanos =
        asn1::generalized_time_nanos(&r.expect(asn1::GENERALIZED_TIME, "genTime")?)?;
    let _accuracy = r.optional(asn1::SEQUENCE)?;
    if let Some(t) = r.optional(asn1::BOOLEAN)? {
        asn1::boolean(&t)?;
    }
    let nonce = match r.optional(asn1::INTEGER)? {
        Some(t) => Some(trim_magnitude(asn1::integer_bytes(&t)?)),
        None => None,
    };
    let _tsa = r.optional(asn1::ctx(0))?;
    let _extensions = r.optional(asn1::ctx(1))?;
    r.finish()?;
    Ok(TstInfo {
        policy,
        hash,
        hashed_message: hashed.value.to_vec(),
        serial,
        gen_time_nanos,
        nonce,
    })
}

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SignerId {
    IssuerSerial { issuer: Vec<u8>, serial: Vec<u8> },
    KeyId(Vec<u8>),
}

/// A parsed `TimeStampResp` with a granted token.
#[derive(Debug, Clone)]
pub struct TimeStampResponse {
    pub tst_info: TstInfo,
    /// The encapsulated TSTInfo bytes (what messageDigest covers).
    tst_info_der: Vec<u8>,
    /// Certificates embedded in the token.
    pub certificates: Vec<Vec<u8>>,
    sid: SignerId,
    digest_alg: HashAlgorithm,
    /// The signed attributes re-tagged as the SET OF that was signed.
    signed_attrs_set: Vec<u8>,
    content_type: Option<ObjectIdentifier>,
    message_digest: Option<Vec<u8>>,
    /// (hash OID, certHash) of the first ESSCertID(v2), if present.
    ess_cert: Option<(ObjectIdentifier, Vec<u8>)>,
    signature_alg: ObjectIdentifier,
    signature: Vec<u8>,
}

impl TimeStampResponse {
    /// Parses a DER `TimeStampResp`; a status other than granted (0) is an
    /// error that carries the TSA's text (grantedWithMods is refused too, as
    /// by sigstore-go and rfc3161-client).
    pub fn from_der(der: &[u8]) -> Result<Self, TspError> {
        let top = Tlv::parse(der)?.expect_tag(asn1::SEQUENCE, "TimeStampResp")?;
        let mut r = top.reader();
        let status_info = r.expect(asn1::SEQUENCE, "PKIStatusInfo")?;
        let mut sr = status_info.reader();
        let status = asn1::integer_u64(&sr.expect(asn1::INTEGER, "PKIStatus")?)?;
        if status != 0 {
            let mut text = String::new();
            if let Some(free) = sr.optional(asn1::SEQUENCE)? {
                for s in free.reader().all()? {
                    text.push_str(&String::from_utf8_lossy(s.value));
                }
            }
            return fail(format!(
                "the TSA refused the request (status {status}) {text}"
            ));
        }
        let token = r.expect(asn1::SEQUENCE, "timeStampToken")?;
        r.finish()?;
        Self::from_token(token)
    }

    fn from_token(token: Tlv<'_>) -> Result<Self, TspError> {
        let mut r = token.reader();
        if parse_oid(&r.expect(asn1::OID, "ContentInfo")?, "ContentInfo")? != OID_SIGNED_DATA {
            return fail("the timestamp token is not CMS SignedData");
        }
        let explicit = r.expect(asn1::ctx(0), "ContentInfo content")?;
        r.finish()?;
        let sd = Tlv::parse(explicit.value)?.expect_tag(asn1::SEQUENCE, "SignedData")?;
        let mut r = sd.reader();
        let _version = asn1::integer_u64(&r.expect(asn1::INTEGER, "SignedData version")?)?;
        let _digest_algs = r.expect(asn1::SET, "digestAlgorithms")?;
        let encap = r.expect(asn1::SEQUENCE, "encapContentInfo")?;
        let mut er = encap.reader();
        if parse_oid(&er.expect(asn1::OID, "eContentType")?, "eContentType")? != OID_CT_TST_INFO {
            return fail("the token does not encapsulate a TSTInfo");
        }
        let econtent = er.expect(asn1::ctx(0), "eContent")?;
        er.finish()?;
        let octets = Tlv::parse(econtent.value)?.expect_tag(asn1::OCTET_STRING, "eContent")?;
        let tst_info_der = octets.value.to_vec();
        let tst_info = parse_tst_info(&tst_info_der)?;
        let mut certificates = Vec::new();
        if let Some(set) = r.optional(asn1::ctx(0))? {
            for c in set.reader().all()? {
                // Only plain certificates; other CertificateChoices are skipped.
                if c.tag == asn1::SEQUENCE {
                    certificates.push(c.raw.to_vec());
                }
            }
        }
        let _crls = r.optional(asn1::ctx(1))?;
        let infos = r.expect(asn1::SET, "signerInfos")?;
        r.finish()?;
        let mut infos = infos.reader().all()?;
        if infos.len() != 1 {
            return fail(format!(
                "the token has {} signers, want exactly 1",
                infos.len()
            ));
        }
        let info = infos.remove(0).expect_tag(asn1::SEQUENCE, "SignerInfo")?;
        let mut r = info.reader();
        let version = asn1::integer_u64(&r.expect(asn1::INTEGER, "SignerInfo version")?)?;
        let sid_t = r.read()?;
        let sid = match (version, sid_t.tag) {
            (1, asn1::SEQUENCE) => {
                let mut sr = sid_t.reader();
                let issuer = sr.expect(asn1::SEQUENCE, "sid issuer")?.raw.to_vec();
                let serial =
                    asn1::integer_bytes(&sr.expect(asn1::INTEGER, "sid serial")?)?.to_vec();
                sr.finish()?;
                SignerId::IssuerSerial { issuer, serial }
            }
            (3, t) if t == asn1::ctx_prim(0) => SignerId::KeyId(sid_t.value.to_vec()),
            _ => return fail("bad SignerInfo version or signer identifier"),
        };
        let digest_alg = read_hash_alg(&r.read()?, "SignerInfo digestAlgorithm")?;
        let attrs = r
            .optional(asn1::ctx(0))?
            .ok_or(TspError("the token has no signed attributes".into()))?;
        let mut signed_attrs_set = attrs.raw.to_vec();
        signed_attrs_set[0] = asn1::SET;
        let mut content_type = None;
        let mut message_digest = None;
        let mut ess_cert = None;
        for a in attrs.reader().all()? {
            let a = a.expect_tag(asn1::SEQUENCE, "Attribute")?;
            let mut ar = a.reader();
            let kind = parse_oid(&ar.expect(asn1::OID, "attrType")?, "attrType")?;
            let values = ar.expect(asn1::SET, "attrValues")?;
            ar.finish()?;
            let mut vr = values.reader();
            let first = vr.read()?;
            match kind {
                OID_ATTR_CONTENT_TYPE => {
                    content_type = Some(parse_oid(&first, "content-type attribute")?);
                }
                OID_ATTR_MESSAGE_DIGEST => {
                    message_digest = Some(
                        first
                            .expect_tag(asn1::OCTET_STRING, "message-digest")?
                            .value
                            .to_vec(),
                    );
                }
                OID_ATTR_SIGNING_CERTIFICATE_V2 | OID_ATTR_SIGNING_CERTIFICATE => {
                    let v2 = kind == OID_ATTR_SIGNING_CERTIFICATE_V2;
                    let mut sc = first
                        .expect_tag(asn1::SEQUENCE, "SigningCertificate")?
                        .reader();
                    let certs = sc.expect(asn1::SEQUENCE, "SigningCertificate certs")?;
                    let id = certs
                        .reader()
                        .read()?
                        .expect_tag(asn1::SEQUENCE, "ESSCertID")?;
                    let mut idr = id.reader();
                    let mut alg = if v2 { OID_SHA256 } else { OID_SHA1 };
                    if v2 && idr.peek_tag() == Some(asn1::SEQUENCE) {
                        alg = read_alg_id(&idr.read()?, "ESSCertIDv2 hashAlgorithm")?;
                    }
                    let h = idr.expect(asn1::OCTET_STRING, "ESSCertID certHash")?;
                    // v2 takes precedence when both are present (RFC 5035).
                    if v2 || ess_cert.is_none() {
                        ess_cert = Some((alg, h.value.to_vec()));
                    }
                }
                _ => {}
            }
        }
        let signature_alg = read_alg_id(&r.read()?, "signatureAlgorithm")?;
        let signature = r.expect(asn1::OCTET_STRING, "signature")?.value.to_vec();
        let _unsigned = r.optional(asn1::ctx(1))?;
        r.finish()?;
        Ok(TimeStampResponse {
            tst_info,
            tst_info_der,
            certificates,
            sid,
            digest_alg,
            signed_attrs_set,
            content_type,
            message_digest,
            ess_cert,
            signature_alg,
            signature,
        })
    }

    fn signer_matches(&self, cert: &Certificate) -> bool {
        match &self.sid {
            SignerId::IssuerSerial { issuer, serial } => {
                cert.tbs_certificate.serial_number.as_bytes() == serial.as_slice()
                    && cert.tbs_certificate.issuer.to_der().ok().as_deref()
                        == Some(issuer.as_slice())
            }
            SignerId::KeyId(id) => extension(cert, OID_SKI)
                .and_then(|v| Tlv::parse(v).ok())
                .is_some_and(|t| t.tag == asn1::OCTET_STRING && t.value == id.as_slice()),
        }
    }

    /// Checks the CMS signature and signed attributes with `cert`'s key.
    fn verify_signature(&self, cert: &Certificate, cert_der: &[u8]) -> Result<(), TspError> {
        if self.content_type != Some(OID_CT_TST_INFO) {
            return fail("the signed content-type attribute is missing or not TSTInfo");
        }
        let want = self.digest_alg.digest(&self.tst_info_der);
        if self.message_digest.as_deref() != Some(want.as_slice()) {
            return fail("the signed message-digest attribute does not match the TSTInfo");
        }
        if let Some((alg, hash)) = &self.ess_cert {
            let got = digest_by_oid(alg, cert_der)
                .ok_or_else(|| TspError(format!("ESS certificate hash algorithm {alg}")))?;
            if &got != hash {
                return fail("the ESS signing-certificate attribute names another certificate");
            }
        }
        let key = keys::certificate_public_key(cert).map_err(|e| TspError(e.to_string()))?;
        let hash = match self.signature_alg {
            OID_ECDSA_SHA256 | OID_RSA_SHA256 => HashAlgorithm::Sha256,
            OID_ECDSA_SHA384 | OID_RSA_SHA384 => HashAlgorithm::Sha384,
            OID_ECDSA_SHA512 | OID_RSA_SHA512 => HashAlgorithm::Sha512,
            OID_RSA_ENCRYPTION | OID_EC_PUBLIC_KEY | OID_ED25519 => self.digest_alg,
            other => return fail(format!("unsupported signature algorithm {other}")),
        };
        key.verify_message_with(hash, &self.signed_attrs_set, &self.signature)
            .map_err(|_| {
                TspError("the timestamp signature does not verify with the TSA certificate".into())
            })
    }
}

use crate::verify::{extension, is_ca};

/// RFC 3161 2.3: the TSA certificate's EKU is critical and is only
/// id-kp-timeStamping.
fn check_tsa_eku(cert: &Certificate) -> Result<(), TspError> {
    let ext = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|e| e.iter().find(|e| e.extn_id == OID_EKU))
        .ok_or(TspError(
            "the TSA certificate has no extended key usage".into(),
        ))?;
    if !ext.critical {
        return fail("the TSA certificate's extended key usage is not critical");
    }
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| TspError(format!("TSA certificate EKU: {e}")))?;
    if eku.0 != [OID_EKU_TIME_STAMPING] {
        return fail("the TSA certificate's extended key usage must be timeStamping only");
    }
    Ok(())
}

// ---------------------------------------------------------------- verifying

/// A verified timestamp.
#[derive(Debug, Clone)]
pub struct VerifiedTimestamp {
    pub time: OffsetDateTime,
    /// Index of the TSA in `timestampAuthorities` that vouched for it.
    pub authority: usize,
    pub tst_info: TstInfo,
}

/// Verifies a DER `TimeStampResp` over `signed` (the exact bytes whose hash
/// the TSA stamped) against the trusted TSAs. `nonce`, when given, must be
/// echoed (a client checking the response to its own request).
pub fn verify_timestamp(
    response_der: &[u8],
    signed: &[u8],
    authorities: &[CertificateAuthority],
    nonce: Option<&[u8]>,
) -> Result<VerifiedTimestamp, TspError> {
    let resp = TimeStampResponse::from_der(response_der)?;
    let tst = &resp.tst_info;
    if tst.hash.digest(signed) != tst.hashed_message {
        return fail("the timestamp's message imprint is not the hash of the signature");
    }
    if let Some(n) = nonce {
        if tst.nonce.as_deref() != Some(trim_magnitude(n).as_slice()) {
            return fail("the timestamp does not echo the request's nonce");
        }
    }
    let time = tst.gen_time()?;
    if authorities.is_empty() {
        return fail("the trusted root has no timestamp authority");
    }
    let mut last = String::new();
    for (i, tsa) in authorities.iter().enumerate() {
        match verify_with_authority(&resp, tsa, time) {
            Ok(()) => {
                return Ok(VerifiedTimestamp {
                    time,
                    authority: i,
                    tst_info: resp.tst_info.clone(),
                })
            }
            Err(e) => last = e.0,
        }
    }
    fail(format!(
        "no trusted timestamp authority verifies the timestamp ({last})"
    ))
}

fn verify_with_authority(
    resp: &TimeStampResponse,
    tsa: &CertificateAuthority,
    time: OffsetDateTime,
) -> Result<(), TspError> {
    if !tsa.valid_for.contains(time) {
        return fail(format!(
            "TSA {:?} is not valid at {time}",
            tsa.subject.common_name
        ));
    }
    let chain = tsa
        .cert_chain
        .certificates
        .iter()
        .map(|c| keys::parse_certificate_der(&c.raw_bytes).map(|p| (p, c.raw_bytes.as_slice())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TspError(e.to_string()))?;
    if chain.is_empty() {
        return fail("the TSA has an empty certificate chain");
    }
    // The signer. When the trusted chain starts with the (non-CA) TSA
    // certificate, that certificate is the signer, and an embedded copy must
    // be identical (sigstore-go, rfc3161-client). A chain of CAs only trusts
    // an embedded certificate the SignerInfo names.
    let embedded: Vec<(Certificate, &[u8])> = resp
        .certificates
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok().map(|c| (c, d.as_slice())))
        .filter(|(c, _)| resp.signer_matches(c))
        .collect();
    let trusted_leaf = chain.first().filter(|(c, _)| !is_ca(c));
    let (signer, signer_der) = match trusted_leaf {
        Some(leaf) => {
            if !resp.signer_matches(&leaf.0) {
                return fail("the timestamp's signer identifier does not name the TSA certificate");
            }
            if embedded.iter().any(|(_, d)| *d != leaf.1) {
                return fail("the embedded TSA certificate is not the trusted one");
            }
            leaf
        }
        None => embedded.first().ok_or(TspError(
            "no certificate matches the timestamp's signer identifier".into(),
        ))?,
    };
    check_tsa_eku(signer)?;
    resp.verify_signature(signer, signer_der)?;
    // Path: signer → … → the chain's last certificate, every step a
    // signature by a chain certificate, every certificate valid at `time`.
    let anchor = chain.len() - 1;
    let mut current: (&Certificate, &[u8]) = (signer, signer_der);
    for _ in 0..=chain.len() {
        valid_at(current.0, time)?;
        if current.1 == chain[anchor].1 {
            return Ok(());
        }
        let parent = chain
            .iter()
            .filter(|(p, d)| {
                *d != current.1 && p.tbs_certificate.subject == current.0.tbs_certificate.issuer
            })
            .find(|(p, _)| {
                keys::certificate_public_key(p)
                    .and_then(|k| keys::verify_certificate_signature(current.0, &k))
                    .is_ok()
            })
            .ok_or(TspError(
                "the TSA certificate does not chain to the trusted TSA chain".into(),
            ))?;
        // EKU chaining (sigstore-go): a CA that restricts its EKU must allow
        // timestamping.
        if let Some(ext) = extension(&parent.0, OID_EKU) {
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext)
                .map_err(|e| TspError(format!("TSA chain EKU: {e}")))?;
            if !eku
                .0
                .iter()
                .any(|o| *o == OID_EKU_TIME_STAMPING || *o == OID_EKU_ANY)
            {
                return fail("a TSA chain certificate's extended key usage excludes timestamping");
            }
        }
        current = (&parent.0, parent.1);
    }
    fail("the TSA certificate chain is too long")
}

fn valid_at(cert: &Certificate, t: OffsetDateTime) -> Result<(), TspError> {
    let (nb, na) = crate::verify::not_before_after(cert);
    if t < nb || t > na {
        return fail(format!(
            "a TSA certificate is not valid at the timestamp time {t} (valid {nb} to {na})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
