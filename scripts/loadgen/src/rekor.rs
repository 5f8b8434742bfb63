//! Rekor v1 workloads: hashedrekord 0.0.1 writes (and bulk fill), reads by log index, and the
//! response checks (rekor.md §1.3, §2.2, §4.1, §5).

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use hyper::{Method, StatusCode, Uri};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::Field;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use p256::{FieldBytes, NonZeroScalar, ProjectivePoint, Scalar, U256};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sigstack_core::merkle::{hash_leaf as leaf_hash, verify_inclusion, Hash};

use crate::http::{Req, Resp, Target};
use crate::util::SplitMix64;
use crate::workload::{Check, Workload};

pub const ENTRIES_PATH: &str = "/api/v1/log/entries";
pub const V2_ENTRIES_PATH: &str = "/api/v2/log/entries";
pub const LOG_INFO_PATH: &str = "/api/v1/log";

/// How entry signatures are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignerKind {
    /// Plain `SigningKey::sign_prehash` (RFC 6979 nonces): one scalar multiplication per entry.
    Rfc6979,
    /// One random nonce `k` for the whole run, so `s = k⁻¹(z + r·d)` costs two scalar
    /// multiplications mod n instead of a point multiplication. The signatures are valid ECDSA
    /// signatures (the server's verification work is unchanged) but they reveal the throwaway
    /// key: never use this outside load generation.
    Fast,
}

/// A precomputed nonce for [`SignerKind::Fast`].
struct FixedNonce {
    r: Scalar,
    k_inv: Scalar,
    r_d: Scalar,
}

/// Generates distinct hashedrekord 0.0.1 proposed entries signed by one P-256 key.
pub struct EntryGen {
    key: SigningKey,
    pem_b64: String,
    /// Base64 of the DER SPKI (Rekor v2 requests).
    spki_b64: String,
    seed: [u8; 16],
    fixed: Option<FixedNonce>,
}

impl EntryGen {
    pub fn new(signer: SignerKind) -> Self {
        Self::with_key(SigningKey::random(&mut OsRng), signer)
    }

    pub fn with_key(key: SigningKey, signer: SignerKind) -> Self {
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("encode public key");
        let mut seed = [0u8; 16];
        OsRng.fill_bytes(&mut seed);
        let fixed = (signer == SignerKind::Fast).then(|| {
            let d: Scalar = **key.as_nonzero_scalar();
            loop {
                let k = NonZeroScalar::random(&mut OsRng);
                let big_r = (ProjectivePoint::GENERATOR * *k).to_affine();
                let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
                if bool::from(r.is_zero()) {
                    continue;
                }
                let k_inv = Option::<Scalar>::from(k.invert()).expect("nonzero k");
                break FixedNonce {
                    r,
                    k_inv,
                    r_d: r * d,
                };
            }
        });
        let spki = key
            .verifying_key()
            .to_public_key_der()
            .expect("encode public key");
        EntryGen {
            key,
            pem_b64: B64.encode(pem.as_bytes()),
            spki_b64: B64.encode(spki.as_bytes()),
            seed,
            fixed,
        }
    }

    #[cfg(test)]
    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.key.verifying_key()
    }

    /// The artifact digest of entry `i`: SHA-256(run seed || i), distinct for every `i`.
    pub fn digest(&self, i: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(i.to_be_bytes());
        h.finalize().into()
    }

    pub fn sign(&self, digest: &[u8; 32]) -> Signature {
        if let Some(f) = &self.fixed {
            let z = <Scalar as Reduce<U256>>::reduce_bytes(FieldBytes::from_slice(digest));
            let s = f.k_inv * (z + f.r_d);
            if let Ok(sig) = Signature::from_scalars(f.r.to_bytes(), s.to_bytes()) {
                return sig;
            }
        }
        self.key.sign_prehash(digest).expect("ECDSA signing")
    }

    /// Appends the JSON proposed entry number `i` to `out`.
    pub fn write_entry(&self, i: u64, out: &mut BytesMut) {
        let digest = self.digest(i);
        let sig = self.sign(&digest);
        let der = sig.to_der();
        let mut sig_b64 = [0u8; 128];
        let sig_len = B64
            .encode_slice(der.as_bytes(), &mut sig_b64)
            .expect("DER signature fits");
        let mut hex_digest = [0u8; 64];
        hex::encode_to_slice(digest, &mut hex_digest).expect("64 hex chars");
        out.reserve(200 + sig_len + self.pem_b64.len());
        out.put_slice(
            br#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":""#,
        );
        out.put_slice(&sig_b64[..sig_len]);
        out.put_slice(br#"","publicKey":{"content":""#);
        out.put_slice(self.pem_b64.as_bytes());
        out.put_slice(br#""}},"data":{"hash":{"algorithm":"sha256","value":""#);
        out.put_slice(&hex_digest);
        out.put_slice(br#""}}}}"#);
    }
}

impl EntryGen {
    /// Appends Rekor v2 create request number `i` (hashedRekordRequestV002).
    pub fn write_v2_entry(&self, i: u64, out: &mut BytesMut) {
        let digest = self.digest(i);
        let der = self.sign(&digest).to_der();
        out.reserve(300 + self.spki_b64.len());
        out.put_slice(br#"{"hashedRekordRequestV002":{"digest":""#);
        out.put_slice(B64.encode(digest).as_bytes());
        out.put_slice(br#"","signature":{"content":""#);
        out.put_slice(B64.encode(der.as_bytes()).as_bytes());
        out.put_slice(br#"","verifier":{"publicKey":{"rawBytes":""#);
        out.put_slice(self.spki_b64.as_bytes());
        out.put_slice(br#""},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}"#);
    }
}

/// POST Rekor v2 entries (`rekor-write --api v2`): each 201 arrives once the
/// entry is in a published checkpoint, so its latency is the time to checkpoint.
pub struct RekorWriteV2 {
    gen: EntryGen,
    uri: Uri,
}

impl RekorWriteV2 {
    pub fn new(target: &Target, signer: SignerKind) -> Self {
        RekorWriteV2 {
            gen: EntryGen::new(signer),
            uri: target.uri(V2_ENTRIES_PATH),
        }
    }
}

impl Workload for RekorWriteV2 {
    fn name(&self) -> &'static str {
        "rekor-v2-write"
    }

    fn generate(&self, i: u64, out: &mut BytesMut) {
        self.gen.write_v2_entry(i, out);
    }

    fn request(&self, payload: &Bytes, _: &mut SplitMix64) -> Req {
        Req {
            method: Method::POST,
            uri: self.uri.clone(),
            body: payload.clone(),
            tag: 0,
        }
    }

    fn check(&self, _req: &Req, resp: &Resp, verify: bool) -> Check {
        if resp.status != StatusCode::CREATED {
            return Check::Status;
        }
        if !verify {
            return Check::Ok { verified: false };
        }
        match verify_v2_entry(&resp.body) {
            Ok(()) => Check::Ok { verified: true },
            Err(e) => Check::Invalid(e),
        }
    }
}

/// A v2 `TransparencyLogEntry`: the inclusion proof of the canonical body
/// reaches the root, whose size and hash the checkpoint states.
pub fn verify_v2_entry(json: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let p = &v["inclusionProof"];
    let num = |x: &serde_json::Value, what: &str| -> Result<u64, String> {
        x.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad {what}"))
    };
    let b64_32 = |x: &serde_json::Value| -> Result<Hash, String> {
        let b = B64
            .decode(x.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        b.try_into().map_err(|_| "hash is not 32 bytes".to_string())
    };
    let index = num(&p["logIndex"], "logIndex")?;
    let size = num(&p["treeSize"], "treeSize")?;
    let root = b64_32(&p["rootHash"])?;
    let hashes = p["hashes"]
        .as_array()
        .ok_or("no hashes")?
        .iter()
        .map(b64_32)
        .collect::<Result<Vec<_>, _>>()?;
    let body = B64
        .decode(v["canonicalizedBody"].as_str().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    verify_inclusion(index, size, &leaf_hash(&body), &hashes, &root).map_err(|e| e.to_string())?;
    let cp = p["checkpoint"]["envelope"]
        .as_str()
        .ok_or("no checkpoint")?;
    let mut lines = cp.lines();
    lines.next();
    if lines.next() != Some(size.to_string().as_str())
        || lines.next() != Some(B64.encode(root).as_str())
    {
        return Err("the checkpoint does not state the proof's size and root".into());
    }
    Ok(())
}

/// The hex digest inside a proposed entry written by [`EntryGen::write_entry`] (the entry ends
/// with `"value":"<64 hex>"}}}}`).
pub fn submitted_digest(entry: &[u8]) -> Option<&[u8]> {
    let n = entry.len();
    (n >= 69 && entry.ends_with(b"\"}}}}")).then(|| &entry[n - 69..n - 5])
}

/// POST hashedrekord entries (`rekor-write`, `rekor-fill`).
pub struct RekorWrite {
    name: &'static str,
    gen: EntryGen,
    uri: Uri,
}

impl RekorWrite {
    pub fn new(name: &'static str, target: &Target, signer: SignerKind) -> Self {
        RekorWrite {
            name,
            gen: EntryGen::new(signer),
            uri: target.uri(ENTRIES_PATH),
        }
    }
}

impl Workload for RekorWrite {
    fn name(&self) -> &'static str {
        self.name
    }

    fn generate(&self, i: u64, out: &mut BytesMut) {
        self.gen.write_entry(i, out);
    }

    fn request(&self, payload: &Bytes, _: &mut SplitMix64) -> Req {
        Req {
            method: Method::POST,
            uri: self.uri.clone(),
            body: payload.clone(),
            tag: 0,
        }
    }

    fn check(&self, req: &Req, resp: &Resp, verify: bool) -> Check {
        if resp.status != StatusCode::CREATED {
            return Check::Status;
        }
        if !verify {
            return Check::Ok { verified: false };
        }
        let etag = resp
            .headers
            .get(hyper::header::ETAG)
            .map(|v| v.to_str().unwrap_or("<non-ascii>"));
        let expect = Expect {
            etag: Some(etag),
            digest_hex: submitted_digest(&req.body),
            log_index: None,
        };
        match verify_log_entry(&resp.body, &expect, true) {
            Ok(()) => Check::Ok { verified: true },
            Err(e) => Check::Invalid(e),
        }
    }
}

/// GET entries by random log index (`rekor-read`).
pub struct RekorRead {
    prefix: String,
    tree_size: u64,
}

impl RekorRead {
    pub fn new(target: &Target, tree_size: u64) -> Self {
        RekorRead {
            prefix: format!("{}{}?logIndex=", target.prefix, ENTRIES_PATH),
            tree_size,
        }
    }
}

impl Workload for RekorRead {
    fn name(&self) -> &'static str {
        "rekor-read"
    }

    fn request(&self, _: &Bytes, rng: &mut SplitMix64) -> Req {
        let idx = rng.below(self.tree_size);
        let mut path = String::with_capacity(self.prefix.len() + 20);
        path.push_str(&self.prefix);
        path.push_str(&idx.to_string());
        Req {
            method: Method::GET,
            uri: Uri::try_from(path).expect("valid path"),
            body: Bytes::new(),
            tag: idx,
        }
    }

    fn check(&self, req: &Req, resp: &Resp, verify: bool) -> Check {
        if resp.status != StatusCode::OK {
            return Check::Status;
        }
        let expect = Expect {
            etag: None,
            digest_hex: None,
            log_index: Some(req.tag),
        };
        match verify_log_entry(&resp.body, &expect, verify) {
            Ok(()) => Check::Ok { verified: verify },
            Err(e) => Check::Invalid(e),
        }
    }
}

#[derive(Deserialize)]
struct LogEntry<'a> {
    #[serde(borrow)]
    body: Cow<'a, str>,
    #[serde(rename = "logIndex")]
    log_index: u64,
    #[serde(borrow)]
    verification: Option<Verification<'a>>,
}

#[derive(Deserialize)]
struct Verification<'a> {
    #[serde(rename = "inclusionProof", borrow)]
    inclusion_proof: Option<InclusionProof<'a>>,
}

#[derive(Deserialize)]
struct InclusionProof<'a> {
    #[serde(borrow)]
    checkpoint: Cow<'a, str>,
    #[serde(borrow)]
    hashes: Vec<&'a str>,
    #[serde(rename = "logIndex")]
    log_index: u64,
    #[serde(rename = "rootHash")]
    root_hash: &'a str,
    #[serde(rename = "treeSize")]
    tree_size: u64,
}

/// What the caller knows about the entry it expects.
pub struct Expect<'a> {
    /// `Some(etag header)` to require ETag == map key (POST responses).
    pub etag: Option<Option<&'a str>>,
    /// The submitted artifact digest, which must appear in the stored body.
    pub digest_hex: Option<&'a [u8]>,
    /// The requested (virtual) log index.
    pub log_index: Option<u64>,
}

fn hash32(hex_str: &str, what: &str) -> Result<Hash, String> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut h).map_err(|e| format!("{what} {hex_str:?}: {e}"))?;
    Ok(h)
}

/// Checks a one-key `LogEntry` map. Always checks the shape and that an inclusion proof is
/// present; with `full`, also the entry ID, the RFC 6962 inclusion proof against
/// `inclusionProof.rootHash`, and the checkpoint's size and root lines.
pub fn verify_log_entry(json: &[u8], expect: &Expect<'_>, full: bool) -> Result<(), String> {
    let map: BTreeMap<&str, LogEntry<'_>> =
        serde_json::from_slice(json).map_err(|e| format!("response is not a LogEntry map: {e}"))?;
    if map.len() != 1 {
        return Err(format!("expected exactly one entry, got {}", map.len()));
    }
    let (id, entry) = map.into_iter().next().expect("one entry");
    if let Some(idx) = expect.log_index {
        if entry.log_index != idx {
            return Err(format!("asked for logIndex {idx}, got {}", entry.log_index));
        }
    }
    let proof = entry
        .verification
        .and_then(|v| v.inclusion_proof)
        .ok_or("no verification.inclusionProof")?;
    if proof.checkpoint.is_empty() {
        return Err("empty inclusionProof.checkpoint".into());
    }
    if !full {
        return Ok(());
    }
    if let Some(etag) = expect.etag {
        match etag {
            None => return Err("missing ETag header".into()),
            Some(e) if e != id => return Err(format!("ETag {e:?} != entry ID {id:?}")),
            Some(_) => {}
        }
    }
    let body = B64
        .decode(entry.body.as_bytes())
        .map_err(|e| format!("body is not base64: {e}"))?;
    let leaf = leaf_hash(&body);
    let uuid = id.get(id.len().saturating_sub(64)..).unwrap_or("");
    if (id.len() != 80 && id.len() != 64) || !uuid.eq_ignore_ascii_case(&hex::encode(leaf)) {
        return Err(format!(
            "entry ID {id} does not end with the leaf hash {}",
            hex::encode(leaf)
        ));
    }
    if let Some(d) = expect.digest_hex {
        if !body.windows(d.len()).any(|w| w == d) {
            return Err("stored body does not contain the submitted digest".into());
        }
    }
    let root = hash32(proof.root_hash, "rootHash")?;
    let hashes = proof
        .hashes
        .iter()
        .map(|h| hash32(h, "inclusion proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    verify_inclusion(proof.log_index, proof.tree_size, &leaf, &hashes, &root).map_err(|e| {
        format!(
            "inclusion proof (index {}, size {}, {} hashes) invalid: {e}",
            proof.log_index,
            proof.tree_size,
            hashes.len()
        )
    })?;
    let mut lines = proof.checkpoint.split('\n');
    let (_origin, size, root_line) = (lines.next(), lines.next(), lines.next());
    if size != Some(proof.tree_size.to_string().as_str()) {
        return Err(format!(
            "checkpoint size line {size:?} != treeSize {}",
            proof.tree_size
        ));
    }
    if root_line != Some(B64.encode(root).as_str()) {
        return Err(format!(
            "checkpoint root line {root_line:?} != base64(rootHash) {}",
            B64.encode(root)
        ));
    }
    Ok(())
}

/// `treeSize` from `GET /api/v1/log`.
pub fn tree_size(log_info: &serde_json::Value) -> anyhow::Result<u64> {
    log_info
        .get("treeSize")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| anyhow::anyhow!("GET /api/v1/log: no numeric treeSize in {log_info}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn v2_entries_are_generated_and_checked() {
        let gen = EntryGen::new(SignerKind::Fast);
        let mut out = BytesMut::new();
        gen.write_v2_entry(7, &mut out);
        let req: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            B64.decode(req["hashedRekordRequestV002"]["digest"].as_str().unwrap())
                .unwrap(),
            gen.digest(7)
        );
        let body = b"{\"apiVersion\":\"0.0.2\"}";
        let root = leaf_hash(body);
        let resp = |size: &str| {
            serde_json::json!({
                "canonicalizedBody": B64.encode(body),
                "inclusionProof": {"logIndex": "0", "treeSize": "1", "rootHash": B64.encode(root),
                    "hashes": [], "checkpoint": {"envelope": format!("o\n{size}\n{}\n\n— o AAAA\n", B64.encode(root))}}
            })
            .to_string()
        };
        verify_v2_entry(resp("1").as_bytes()).unwrap();
        assert!(verify_v2_entry(resp("2").as_bytes()).is_err());
    }

    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::VerifyingKey;
    use p256::pkcs8::DecodePublicKey;
    use serde_json::{json, Value};
    use sigstack_core::merkle::{hash_children, ProofError};

    fn check_entry(bytes: &[u8], vk: &VerifyingKey) -> [u8; 32] {
        let v: Value = serde_json::from_slice(bytes).expect("valid JSON");
        assert_eq!(v["kind"], "hashedrekord");
        assert_eq!(v["apiVersion"], "0.0.1");
        let spec = &v["spec"];
        assert_eq!(spec["data"]["hash"]["algorithm"], "sha256");
        let digest_hex = spec["data"]["hash"]["value"].as_str().unwrap();
        assert_eq!(submitted_digest(bytes).unwrap(), digest_hex.as_bytes());
        let mut digest = [0u8; 32];
        hex::decode_to_slice(digest_hex, &mut digest).unwrap();
        let pem = B64
            .decode(spec["signature"]["publicKey"]["content"].as_str().unwrap())
            .unwrap();
        let pem = String::from_utf8(pem).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        let key = VerifyingKey::from_public_key_pem(&pem).unwrap();
        assert_eq!(&key, vk);
        let der = B64
            .decode(spec["signature"]["content"].as_str().unwrap())
            .unwrap();
        let sig = Signature::from_der(&der).unwrap();
        key.verify_prehash(&digest, &sig)
            .expect("signature verifies over the digest");
        digest
    }

    #[test]
    fn entries_verify_with_both_signers() {
        for signer in [SignerKind::Rfc6979, SignerKind::Fast] {
            let gen = EntryGen::new(signer);
            let vk = gen.verifying_key();
            let mut seen = std::collections::HashSet::new();
            for i in 0..20 {
                let mut out = BytesMut::new();
                gen.write_entry(i, &mut out);
                assert!(seen.insert(check_entry(&out, &vk)), "digests are distinct");
            }
        }
    }

    #[test]
    fn fast_signer_matches_textbook_ecdsa() {
        // A signature from the fixed nonce must also be rejected for another digest.
        let gen = EntryGen::new(SignerKind::Fast);
        let vk = gen.verifying_key();
        let d1 = gen.digest(1);
        let d2 = gen.digest(2);
        let sig = gen.sign(&d1);
        assert!(vk.verify_prehash(&d1, &sig).is_ok());
        assert!(vk.verify_prehash(&d2, &sig).is_err());
    }

    /// A hand-built 3-leaf tree:
    /// ```text
    ///        root
    ///       /    \
    ///     n01     c
    ///    /   \
    ///   a     b
    /// ```
    struct Tree3 {
        leaves: [Vec<u8>; 3],
        hashes: [Hash; 3],
        n01: Hash,
        root: Hash,
    }

    fn tree3() -> Tree3 {
        let leaves = [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
        let hashes = [
            leaf_hash(&leaves[0]),
            leaf_hash(&leaves[1]),
            leaf_hash(&leaves[2]),
        ];
        // Built by hand (not with core's tree code) so the test is independent of it.
        let node = |l: &Hash, r: &Hash| -> Hash {
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(l);
            h.update(r);
            h.finalize().into()
        };
        let n01 = node(&hashes[0], &hashes[1]);
        let root = node(&n01, &hashes[2]);
        assert_eq!(n01, hash_children(&hashes[0], &hashes[1]));
        Tree3 {
            leaves,
            hashes,
            n01,
            root,
        }
    }

    #[test]
    fn inclusion_on_three_leaf_tree() {
        let t = tree3();
        let [a, b, c] = t.hashes;
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert!(verify_inclusion(0, 3, &a, &[b, c], &t.root).is_ok());
        assert!(verify_inclusion(1, 3, &b, &[a, c], &t.root).is_ok());
        assert!(verify_inclusion(2, 3, &c, &[t.n01], &t.root).is_ok());
        assert!(verify_inclusion(0, 1, &a, &[], &a).is_ok());
        // Wrong order, wrong leaf, wrong length, out of range.
        assert!(matches!(
            verify_inclusion(0, 3, &a, &[c, b], &t.root),
            Err(ProofError::RootMismatch { .. })
        ));
        assert!(verify_inclusion(1, 3, &a, &[a, c], &t.root).is_err());
        assert!(matches!(
            verify_inclusion(2, 3, &c, &[t.n01, a], &t.root),
            Err(ProofError::WrongProofLength { .. })
        ));
        assert!(matches!(
            verify_inclusion(3, 3, &c, &[], &t.root),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }

    /// A response for leaf `i` of the hand-built 3-leaf tree, as the server would send it.
    fn response(i: usize, hashes: &[Hash], tree_size: u64, root: &Hash, body: &[u8]) -> Value {
        let id = format!("{:016x}{}", 42, hex::encode(leaf_hash(body)));
        json!({ id: {
            "body": B64.encode(body),
            "integratedTime": 1_700_000_000,
            "logID": "00".repeat(32),
            "logIndex": i,
            "verification": {
                "inclusionProof": {
                    "checkpoint": format!("example.test - 42\n{tree_size}\n{}\n\n\u{2014} example.test AAAAAA==\n", B64.encode(root)),
                    "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": i,
                    "rootHash": hex::encode(root),
                    "treeSize": tree_size,
                },
                "signedEntryTimestamp": "MEUCIQ==",
            }
        }})
    }

    fn id_of(v: &Value) -> String {
        v.as_object().unwrap().keys().next().unwrap().clone()
    }

    #[test]
    fn proof_check_on_three_leaf_tree() {
        let t = tree3();
        let [a, b, c] = t.hashes;
        let proofs: [Vec<Hash>; 3] = [vec![b, c], vec![a, c], vec![t.n01]];
        for (i, proof) in proofs.iter().enumerate() {
            let v = response(i, proof, 3, &t.root, &t.leaves[i]);
            let id = id_of(&v);
            let bytes = serde_json::to_vec(&v).unwrap();
            let ok = Expect {
                etag: Some(Some(&id)),
                digest_hex: Some(&t.leaves[i]),
                log_index: Some(i as u64),
            };
            assert_eq!(verify_log_entry(&bytes, &ok, true), Ok(()), "leaf {i}");
        }

        let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
        let none = Expect {
            etag: None,
            digest_hex: None,
            log_index: None,
        };
        // Wrong proof order.
        let v = response(0, &[c, b], 3, &t.root, &t.leaves[0]);
        assert!(verify_log_entry(&bytes(&v), &none, true).is_err());
        // ...which the presence-only check does not notice.
        assert!(verify_log_entry(&bytes(&v), &none, false).is_ok());
        // Wrong tree size in the checkpoint.
        let mut v = response(2, &[t.n01], 3, &t.root, &t.leaves[2]);
        let id = id_of(&v);
        let cp = &mut v[&id]["verification"]["inclusionProof"]["checkpoint"];
        *cp = json!(cp.as_str().unwrap().replacen("\n3\n", "\n4\n", 1));
        let e = verify_log_entry(&bytes(&v), &none, true).unwrap_err();
        assert!(e.contains("checkpoint size"), "{e}");
        // Checkpoint root as hex instead of base64.
        let mut v = response(2, &[t.n01], 3, &t.root, &t.leaves[2]);
        v[&id]["verification"]["inclusionProof"]["checkpoint"] =
            json!(format!("example.test - 42\n3\n{}\n\n", hex::encode(t.root)));
        assert!(verify_log_entry(&bytes(&v), &none, true)
            .unwrap_err()
            .contains("checkpoint root"));
        // ETag mismatch / missing.
        let v = response(1, &[a, c], 3, &t.root, &t.leaves[1]);
        let etag_bad = Expect {
            etag: Some(Some("nope")),
            ..none
        };
        assert!(verify_log_entry(&bytes(&v), &etag_bad, true).is_err());
        let etag_missing = Expect {
            etag: Some(None),
            digest_hex: None,
            log_index: None,
        };
        assert!(verify_log_entry(&bytes(&v), &etag_missing, true).is_err());
        // Entry ID that is not the leaf hash.
        let mut v = response(1, &[a, c], 3, &t.root, &t.leaves[1]);
        let id = id_of(&v);
        let entry = v.as_object_mut().unwrap().remove(&id).unwrap();
        v[format!("{:016x}{}", 42, "ab".repeat(32))] = entry;
        assert!(verify_log_entry(&bytes(&v), &none, true)
            .unwrap_err()
            .contains("leaf hash"));
        // Missing proof, and two entries.
        let mut v = response(1, &[a, c], 3, &t.root, &t.leaves[1]);
        let id = id_of(&v);
        v[&id]["verification"] = json!({"signedEntryTimestamp": "MEUCIQ=="});
        assert!(verify_log_entry(&bytes(&v), &none, false).is_err());
        let mut v = response(1, &[a, c], 3, &t.root, &t.leaves[1]);
        let w = response(0, &[b, c], 3, &t.root, &t.leaves[0]);
        v.as_object_mut()
            .unwrap()
            .extend(w.as_object().unwrap().clone());
        assert!(verify_log_entry(&bytes(&v), &none, false).is_err());
        // Requested index mismatch.
        let v = response(1, &[a, c], 3, &t.root, &t.leaves[1]);
        let idx = Expect {
            log_index: Some(2),
            ..none
        };
        assert!(verify_log_entry(&bytes(&v), &idx, false).is_err());
    }
}
