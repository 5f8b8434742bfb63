//! Extension encodings checked against a certificate issued by the public-good
//! Fulcio for a GitHub Actions workflow (sigstore-python test asset).

use base64::Engine;
use der::{Decode, Encode};
use serde_json::{json, Value};
use x509_cert::Certificate;

use crate::ca::Ca;
use crate::cert::{LeafTemplate, OID_SIGSTORE_ARC};
use crate::config::FulcioConfig;

const GITHUB_BUNDLE: &str =
    include_str!("../../core/tests/data/upstream/sigstore-python/bundle_v3_github.whl.sigstore");

fn real_leaf() -> Certificate {
    let b: Value = serde_json::from_str(GITHUB_BUNDLE).unwrap();
    let raw = b["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    Certificate::from_der(&der).unwrap()
}

/// (OID, critical, value) of the SAN and every Sigstore extension, in order.
fn identity_exts(exts: &[x509_cert::ext::Extension]) -> Vec<(String, bool, Vec<u8>)> {
    exts.iter()
        .filter(|e| {
            let o = e.extn_id.to_string();
            o == "2.5.29.17" || o.starts_with(&format!("{OID_SIGSTORE_ARC}."))
        })
        .map(|e| {
            (
                e.extn_id.to_string(),
                e.critical,
                e.extn_value.as_bytes().to_vec(),
            )
        })
        .collect()
}

fn ext_str(c: &Certificate, arc: u32) -> String {
    let oid = format!("{OID_SIGSTORE_ARC}.{arc}");
    let e = c
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .unwrap();
    let v = e.extn_value.as_bytes();
    if arc <= 6 {
        String::from_utf8(v.to_vec()).unwrap()
    } else {
        der::asn1::Utf8StringRef::from_der(v)
            .unwrap()
            .as_str()
            .to_string()
    }
}

#[test]
fn github_workflow_extensions_match_public_good_fulcio() {
    let real = real_leaf();
    let strip = |s: String, p: &str| s.strip_prefix(p).unwrap().to_string();
    let gh = "https://github.com/";
    // Rebuild the token claims that produced this certificate from its extensions.
    let run = strip(ext_str(&real, 21), gh);
    let parts: Vec<&str> = run.split('/').collect(); // owner/repo/actions/runs/<id>/attempts/<n>
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:trailofbits/rfc8785.py:ref:refs/tags/v0.1.2",
        "job_workflow_ref": strip(ext_str(&real, 9), gh),
        "sha": ext_str(&real, 3),
        "event_name": ext_str(&real, 2),
        "repository": ext_str(&real, 5),
        "workflow": ext_str(&real, 4),
        "ref": ext_str(&real, 6),
        "job_workflow_sha": ext_str(&real, 10),
        "runner_environment": ext_str(&real, 11),
        "repository_id": ext_str(&real, 15),
        "repository_owner": strip(ext_str(&real, 16), gh),
        "repository_owner_id": ext_str(&real, 17),
        "repository_visibility": ext_str(&real, 22),
        "workflow_ref": strip(ext_str(&real, 18), gh),
        "workflow_sha": ext_str(&real, 19),
        "run_id": parts[4],
        "run_attempt": parts[6],
    });
    let cfg = FulcioConfig::upstream_default();
    let issuer = cfg
        .issuer("https://token.actions.githubusercontent.com")
        .unwrap();
    let p = crate::identity::principal(&cfg, &issuer, claims.as_object().unwrap()).unwrap();
    assert_eq!(p.name, "repo:trailofbits/rfc8785.py:ref:refs/tags/v0.1.2");

    let ca = Ca::ephemeral().unwrap();
    let spki = real
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let t = LeafTemplate::new(spki, p.san, p.extensions, std::time::SystemTime::now()).unwrap();
    let ours = t.base_extensions(ca.issuer().key_id).unwrap();
    let ours = identity_exts(&ours);
    let theirs = identity_exts(real.tbs_certificate.extensions.as_ref().unwrap());
    // Same SAN and .1–.22 bytes in the same order; ours adds .24 (token subject,
    // introduced upstream after this certificate was issued).
    assert_eq!(&ours[..theirs.len()], &theirs[..]);
    assert_eq!(ours.len(), theirs.len() + 1);
    assert_eq!(ours.last().unwrap().0, format!("{OID_SIGSTORE_ARC}.24"));
}
