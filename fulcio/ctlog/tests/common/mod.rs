#![allow(dead_code)]
//! Test PKI (root → intermediate → leaf / precert) built from x509-cert types
//! and core's P-256 signing key, plus an in-process server.

use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use serde_json::{json, Value};
use sigstack_core::ct;
use sigstack_core::keys::SigningKey;
use sigstack_ctlog::Service;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::Certificate;

pub const OID_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
pub const OID_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

static SERIAL: AtomicU8 = AtomicU8::new(1);

pub fn ext(oid: &str, critical: bool, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical,
        extn_value: OctetString::new(value).unwrap(),
    }
}

pub fn ca_ext() -> Extension {
    let bc = BasicConstraints {
        ca: true,
        path_len_constraint: None,
    };
    ext("2.5.29.19", true, bc.to_der().unwrap())
}

pub fn eku_ext(usages: &[ObjectIdentifier]) -> Extension {
    ext(
        "2.5.29.37",
        false,
        ExtendedKeyUsage(usages.to_vec()).to_der().unwrap(),
    )
}

pub fn poison_ext() -> Extension {
    Extension {
        extn_id: ct::OID_CT_POISON,
        critical: true,
        extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
    }
}

/// A certificate authority (or any signer) in the test PKI.
pub struct Ca {
    pub key: SigningKey,
    pub name: Name,
    pub der: Vec<u8>,
}

fn sig_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_ECDSA_SHA256,
        parameters: None,
    }
}

/// The TBS of a certificate for `subject_key` named `subject`, issued by `issuer_name`.
pub fn tbs(
    subject: &str,
    subject_key: &SigningKey,
    issuer_name: &Name,
    extensions: Vec<Extension>,
) -> TbsCertificate {
    let spki =
        SubjectPublicKeyInfoOwned::from_der(&subject_key.public_key().to_spki_der()).unwrap();
    TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[0x10, SERIAL.fetch_add(1, Ordering::Relaxed)]).unwrap(),
        signature: sig_alg(),
        issuer: issuer_name.clone(),
        validity: Validity::from_now(Duration::from_secs(600)).unwrap(),
        subject: Name::from_str(subject).unwrap(),
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: (!extensions.is_empty()).then_some(extensions),
    }
}

/// Signs a TBS with `issuer_key` (ECDSA P-256 SHA-256) into certificate DER.
pub fn sign(tbs: TbsCertificate, issuer_key: &SigningKey) -> Vec<u8> {
    let sig = issuer_key.sign(&tbs.to_der().unwrap());
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: sig_alg(),
        signature: BitString::from_bytes(&sig).unwrap(),
    }
    .to_der()
    .unwrap()
}

impl Ca {
    pub fn root(cn: &str) -> Ca {
        let key = SigningKey::generate_p256();
        let name = Name::from_str(&format!("CN={cn},O=test")).unwrap();
        let der = sign(
            tbs(&format!("CN={cn},O=test"), &key, &name, vec![ca_ext()]),
            &key,
        );
        Ca { key, name, der }
    }

    /// A sub-CA with `extensions` (pass `ca_ext()` for a proper CA).
    pub fn issue_ca(&self, cn: &str, extensions: Vec<Extension>) -> Ca {
        let key = SigningKey::generate_p256();
        let subject = format!("CN={cn},O=test");
        let der = sign(tbs(&subject, &key, &self.name, extensions), &self.key);
        Ca {
            key,
            name: Name::from_str(&subject).unwrap(),
            der,
        }
    }

    /// A leaf (empty subject is not needed here) with the given extensions.
    pub fn issue(&self, extensions: Vec<Extension>) -> Vec<u8> {
        let key = SigningKey::generate_p256();
        sign(tbs("CN=leaf", &key, &self.name, extensions), &self.key)
    }

    pub fn leaf(&self) -> Vec<u8> {
        self.issue(vec![eku_ext(&[OID_CODE_SIGNING])])
    }

    pub fn precert(&self) -> Vec<u8> {
        self.issue(vec![eku_ext(&[OID_CODE_SIGNING]), poison_ext()])
    }
}

/// root → intermediate (CA, EKU codeSigning).
pub struct Pki {
    pub root: Ca,
    pub inter: Ca,
}

impl Pki {
    pub fn new() -> Pki {
        let root = Ca::root("root");
        let inter = root.issue_ca("intermediate", vec![ca_ext(), eku_ext(&[OID_CODE_SIGNING])]);
        Pki { root, inter }
    }
}

pub fn chain_body(certs: &[&[u8]]) -> Value {
    json!({ "chain": certs.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>() })
}

pub struct TestServer {
    pub url: String,
    pub svc: Arc<Service>,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

pub async fn serve(svc: Service) -> TestServer {
    let svc = Arc::new(svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = svc.clone();
    tokio::spawn(async move {
        sigstack_ctlog::serve(listener, s, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        url,
        svc,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
    }
}

impl TestServer {
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, serde_json::to_vec(body).unwrap()).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path_and_query}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn tree_size(&self) -> u64 {
        let (s, v) = self.get("/ct/v1/get-sth").await;
        assert_eq!(s, 200);
        v["tree_size"].as_u64().unwrap()
    }
}

pub fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

pub fn b64_hash(v: &Value) -> [u8; 32] {
    b64(v).try_into().unwrap()
}

/// Splits a TLS `ASN.1Cert<..2^24-1>` list (with its uint24 total length).
pub fn split_cert_list(bytes: &[u8]) -> (Vec<Vec<u8>>, &[u8]) {
    let total = u24(bytes);
    let (mut body, rest) = bytes[3..].split_at(total);
    let mut out = Vec::new();
    while !body.is_empty() {
        let n = u24(body);
        out.push(body[3..3 + n].to_vec());
        body = &body[3 + n..];
    }
    (out, rest)
}

pub fn u24(b: &[u8]) -> usize {
    ((b[0] as usize) << 16) | ((b[1] as usize) << 8) | b[2] as usize
}
