//! Vectors: `testdata/` holds a TSA made with OpenSSL 3.0 (`openssl ts
//! -reply`, P-256, ESS signing-certificate v2, accuracy, TSA name, genTime
//! with milliseconds) and its responses: `resp.tsr` to a SHA-256 request with
//! a nonce and `certReq` (certificates embedded), `resp2.tsr` to a SHA-384
//! request with neither (the signer comes from the trusted chain).

use super::*;
use crate::keys::SigningKey;
use crate::trust::{DistinguishedName, TimeRange, X509Certificate, X509CertificateChain};

const ROOT_PEM: &[u8] = include_bytes!("testdata/root.pem");
const TSA_PEM: &[u8] = include_bytes!("testdata/tsa.pem");
const SIG: &[u8] = include_bytes!("testdata/sig.bin");
const REQ: &[u8] = include_bytes!("testdata/req.tsq");
const RESP: &[u8] = include_bytes!("testdata/resp.tsr");
const REQ2: &[u8] = include_bytes!("testdata/req2.tsq");
const RESP2: &[u8] = include_bytes!("testdata/resp2.tsr");

fn pem_chain(pems: &[&[u8]]) -> Vec<Vec<u8>> {
    pems.iter()
        .flat_map(|p| crate::pem::parse_certificates(p).unwrap())
        .collect()
}

fn authority(chain: &[Vec<u8>], start: i64, end: Option<i64>) -> CertificateAuthority {
    CertificateAuthority {
        subject: DistinguishedName {
            organization: "test".into(),
            common_name: "tsa".into(),
        },
        uri: String::new(),
        cert_chain: X509CertificateChain {
            certificates: chain
                .iter()
                .map(|d| X509Certificate {
                    raw_bytes: d.clone(),
                })
                .collect(),
        },
        valid_for: TimeRange {
            start: OffsetDateTime::from_unix_timestamp(start).unwrap(),
            end: end.map(|e| OffsetDateTime::from_unix_timestamp(e).unwrap()),
        },
        operator: String::new(),
    }
}

fn openssl_authority() -> CertificateAuthority {
    authority(&pem_chain(&[TSA_PEM, ROOT_PEM]), 0, None)
}

#[test]
fn openssl_requests_parse_and_round_trip() {
    let req = TimeStampRequest::from_der(REQ).unwrap();
    assert_eq!(req.hash, HashAlgorithm::Sha256);
    assert_eq!(req.hashed_message, HashAlgorithm::Sha256.digest(SIG));
    assert!(req.cert_req);
    assert!(req.nonce.is_some());
    assert_eq!(req.to_der(), REQ);
    let req2 = TimeStampRequest::from_der(REQ2).unwrap();
    assert_eq!(req2.hash, HashAlgorithm::Sha384);
    assert!(!req2.cert_req && req2.nonce.is_none());
    assert_eq!(req2.to_der(), REQ2);
}

#[test]
fn openssl_responses_verify() {
    let tsa = [openssl_authority()];
    let req = TimeStampRequest::from_der(REQ).unwrap();
    let v = verify_timestamp(RESP, SIG, &tsa, req.nonce.as_deref()).unwrap();
    assert_eq!(v.authority, 0);
    assert_eq!(v.tst_info.policy, oid("1.3.6.1.4.1.57264.2"));
    // genTime carries milliseconds (clock_precision_digits=3).
    assert_eq!(v.time.unix_timestamp_nanos() % 1_000_000, 0);
    let parsed = TimeStampResponse::from_der(RESP).unwrap();
    assert!(!parsed.certificates.is_empty());
    assert!(parsed.ess_cert.is_some());

    // No embedded certificate: the signer is the trusted chain's first.
    let v2 = verify_timestamp(RESP2, SIG, &tsa, None).unwrap();
    assert_eq!(v2.tst_info.hash, HashAlgorithm::Sha384);
    assert!(TimeStampResponse::from_der(RESP2)
        .unwrap()
        .certificates
        .is_empty());
}

#[test]
fn openssl_response_failures_name_the_check() {
    let tsa = [openssl_authority()];
    let e = |r: Result<VerifiedTimestamp, TspError>| r.unwrap_err().0;
    assert!(e(verify_timestamp(RESP, b"other bytes", &tsa, None)).contains("message imprint"));
    assert!(e(verify_timestamp(RESP, SIG, &tsa, Some(&[1, 2, 3]))).contains("nonce"));
    assert!(e(verify_timestamp(RESP, SIG, &[], None)).contains("no timestamp authority"));
    // A window that closed before the stamp.
    let old = [authority(&pem_chain(&[TSA_PEM, ROOT_PEM]), 0, Some(1_000))];
    assert!(e(verify_timestamp(RESP, SIG, &old, None)).contains("not valid at"));
    // Another TSA's chain.
    let other = test_identity();
    let wrong = [authority(other.chain_der(), 0, None)];
    assert!(e(verify_timestamp(RESP2, SIG, &wrong, None)).contains("signer identifier"));
    // The right signer identifier, but another certificate embedded.
    let mut swapped = pem_chain(&[TSA_PEM, ROOT_PEM]);
    swapped[0] = other.chain_der()[0].clone();
    let mixed = [authority(&swapped, 0, None)];
    assert!(e(verify_timestamp(RESP, SIG, &mixed, None)).contains("signer identifier"));
    // The root alone as the chain: the embedded leaf must chain to it.
    let root_only = [authority(&pem_chain(&[ROOT_PEM]), 0, None)];
    verify_timestamp(RESP, SIG, &root_only, None).unwrap();
    // …but without an embedded leaf there is nothing to match the signer.
    assert!(e(verify_timestamp(RESP2, SIG, &root_only, None)).contains("signer identifier"));
}

#[test]
fn every_flipped_byte_of_a_response_is_refused_or_harmless() {
    // Flip each byte of the signed regions: the result must be an error,
    // except where the byte is outside anything signed or compared (the
    // embedded certificates, which are only a lookup aid, and unsigned
    // status fields).
    let tsa = [openssl_authority()];
    let resp = TimeStampResponse::from_der(RESP).unwrap();
    let mut accepted = 0;
    for i in 0..RESP.len() {
        let mut bad = RESP.to_vec();
        bad[i] ^= 0x01;
        if let Ok(v) = verify_timestamp(&bad, SIG, &tsa, None) {
            accepted += 1;
            // Whatever was accepted still states the genuine time and imprint.
            assert_eq!(v.tst_info, resp.tst_info, "byte {i}");
        }
    }
    // The embedded certificate copies (948 bytes) hold most harmless bytes.
    assert!(accepted < 1000, "{accepted}");
}

fn test_identity() -> TsaIdentity {
    let (chain, _key) = test_chain();
    TsaIdentity::new(chain).unwrap()
}

/// A root and a timestamping leaf made with rcgen.
fn test_chain() -> (Vec<Vec<u8>>, SigningKey) {
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut rp = CertificateParams::new(Vec::<String>::new()).unwrap();
    rp.distinguished_name
        .push(DnType::CommonName, "test tsa root");
    rp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    rp.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let root = rp.self_signed(&root_key).unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut lp = CertificateParams::new(Vec::<String>::new()).unwrap();
    lp.distinguished_name.push(DnType::CommonName, "test tsa");
    lp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        asn1::seq(&[&oid_der(&OID_EKU_TIME_STAMPING)]),
    );
    eku.set_criticality(true);
    lp.custom_extensions = vec![eku];
    let issuer = rcgen::Issuer::from_params(&rp, &root_key);
    let leaf = lp.signed_by(&leaf_key, &issuer).unwrap();
    let key = SigningKey::from_pkcs8_der(&leaf_key.serialize_der()).unwrap();
    (vec![leaf.der().to_vec(), root.der().to_vec()], key)
}

fn stamp(id: &TsaIdentity, key: &SigningKey, req: &TimeStampRequest, at: i64) -> Vec<u8> {
    let policy = oid("1.3.6.1.4.1.57264.2");
    let params = StampParams {
        policy: &policy,
        serial: &[0x80, 1, 2, 3],
        gen_time: OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(at) * 1_000_000_000 + 5_000_000,
        )
        .unwrap(),
        accuracy: Some((1, 0, 0)),
    };
    id.stamp(req, &params, |m| Ok::<_, ()>(key.sign(m)))
        .unwrap()
}

#[test]
fn issued_tokens_verify_with_and_without_embedded_certificates() {
    let (chain, key) = test_chain();
    let id = TsaIdentity::new(chain.clone()).unwrap();
    let tsa = [authority(&chain, 0, None)];
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for cert_req in [true, false] {
        let mut req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"sig");
        req.cert_req = cert_req;
        let resp = stamp(&id, &key, &req, now);
        let v = verify_timestamp(&resp, b"sig", &tsa, req.nonce.as_deref()).unwrap();
        assert_eq!(v.time.unix_timestamp(), now);
        assert_eq!(v.time.nanosecond(), 0, "whole seconds");
        assert_eq!(v.tst_info.serial, vec![0x00, 0x80, 1, 2, 3]);
        let parsed = TimeStampResponse::from_der(&resp).unwrap();
        // certReq embeds the signing certificate.
        assert_eq!(parsed.certificates.len(), usize::from(cert_req));
    }
    // A key that is not the certificate's.
    let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"sig");
    let resp = stamp(&id, &SigningKey::generate_p256(), &req, now);
    let err = verify_timestamp(&resp, b"sig", &tsa, None).unwrap_err();
    assert!(err.0.contains("signature does not verify"), "{err}");
}

#[test]
fn issued_tokens_verify_with_openssl() {
    // `openssl ts -verify` is the independent check the issue names; run it
    // when the binary is present (it is on every CI image we use).
    let Ok(out) = std::process::Command::new("openssl")
        .arg("version")
        .output()
    else {
        return;
    };
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("sigstack-tsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (chain, key) = test_chain();
    let id = TsaIdentity::new(chain.clone()).unwrap();
    let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"data to stamp");
    let resp = stamp(&id, &key, &req, OffsetDateTime::now_utc().unix_timestamp());
    std::fs::write(dir.join("data"), b"data to stamp").unwrap();
    std::fs::write(dir.join("resp.tsr"), &resp).unwrap();
    std::fs::write(
        dir.join("root.pem"),
        crate::pem::encode("CERTIFICATE", &chain[1]),
    )
    .unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "ts", "-verify", "-data", "data", "-in", "resp.tsr", "-CAfile", "root.pem",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn request_boundaries() {
    let good = TimeStampRequest::for_data(HashAlgorithm::Sha512, b"x");
    assert_eq!(TimeStampRequest::from_der(&good.to_der()).unwrap(), good);
    // SHA-1 imprint: badAlg.
    let sha1 = asn1::seq(&[
        &asn1::uint_u64(1),
        &asn1::seq(&[
            &asn1::seq(&[&oid_der(&OID_SHA1), &asn1::tlv(asn1::NULL, &[])]),
            &asn1::octets(&[0; 20]),
        ]),
    ]);
    assert!(matches!(
        TimeStampRequest::from_der(&sha1),
        Err(Rejection::BadAlg(_))
    ));
    // Imprint length that does not fit the algorithm.
    let mut short = good.clone();
    short.hashed_message.truncate(10);
    assert!(matches!(
        TimeStampRequest::from_der(&short.to_der()),
        Err(Rejection::BadDataFormat(_))
    ));
    // Version 2, garbage, trailing bytes, extensions.
    let mut v2 = good.to_der();
    v2[4] = 2;
    assert!(matches!(
        TimeStampRequest::from_der(&v2),
        Err(Rejection::BadRequest(_))
    ));
    assert!(TimeStampRequest::from_der(b"not der").is_err());
    let mut trailing = good.to_der();
    trailing.push(0);
    assert!(TimeStampRequest::from_der(&trailing).is_err());
    let mut body = good.to_der()[2..].to_vec();
    body.extend(asn1::cons(asn1::ctx(0), &[&asn1::seq(&[])]));
    let with_ext = asn1::tlv(asn1::SEQUENCE, &body);
    assert_eq!(
        TimeStampRequest::from_der(&with_ext),
        Err(Rejection::UnacceptedExtension)
    );
}

#[test]
fn rejection_responses_parse_as_refusals() {
    for r in [
        Rejection::BadAlg("sha1".into()),
        Rejection::BadDataFormat("x".into()),
        Rejection::UnacceptedExtension,
    ] {
        let der = rejection_response(&r);
        let e = TimeStampResponse::from_der(&der).unwrap_err();
        assert!(e.0.contains("status 2"), "{e}");
        let top = Tlv::parse(&der).unwrap();
        let status = top.reader().read().unwrap();
        let mut sr = status.reader();
        sr.read().unwrap();
        sr.read().unwrap();
        let bits = sr.read().unwrap();
        assert_eq!(bits.tag, asn1::BIT_STRING);
        let bit = usize::from(r.fail_bit());
        assert_ne!(bits.value[1 + bit / 8] & (0x80 >> (bit % 8)), 0);
    }
}

#[test]
fn identity_refuses_certificates_without_the_timestamping_eku() {
    let chain = pem_chain(&[ROOT_PEM]);
    let e = TsaIdentity::new(chain).unwrap_err();
    assert!(e.0.contains("extended key usage"), "{e}");
    let (mut chain, _) = test_chain();
    chain.reverse();
    assert!(TsaIdentity::new(chain).is_err());
}

/// Responses from the upstream Go `timestamp-server` (sigstore/timestamp-authority,
/// in-memory signer: P-256 leaf, intermediate with a non-critical
/// timeStamping EKU, root), over the message `hello`.
#[test]
fn upstream_go_tsa_responses_verify() {
    let chain =
        crate::pem::parse_certificates(include_bytes!("testdata/go-upstream-memory-chain.pem"))
            .unwrap();
    let msg = include_bytes!("testdata/go-message.bin");
    let tsa = [authority(&chain, 0, None)];
    for resp in [
        &include_bytes!("testdata/go-resp-sha256-nonce-certreq.tsr")[..],
        include_bytes!("testdata/go-resp-sha512-nonce-certreq.tsr"),
        include_bytes!("testdata/go-resp-json-sha256-nocerts.tsr"),
    ] {
        let v = verify_timestamp(resp, msg, &tsa, None).unwrap();
        assert_eq!(v.time.nanosecond(), 0);
    }
    let req =
        TimeStampRequest::from_der(include_bytes!("testdata/go-query-sha512-nonce-certreq.tsq"))
            .unwrap();
    assert_eq!(req.hash, HashAlgorithm::Sha512);
    verify_timestamp(
        include_bytes!("testdata/go-resp-sha512-nonce-certreq.tsr"),
        msg,
        &tsa,
        req.nonce.as_deref(),
    )
    .unwrap();
    // Our identity accepts the upstream chain shape (three certificates).
    TsaIdentity::new(chain).unwrap();
}
