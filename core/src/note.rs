//! Signed notes (C2SP `signed-note`) and transparency-log checkpoints
//! (C2SP `tlog-checkpoint`, including the Rekor v1 variant).
//!
//! Only the text format and key-ID rules live here; the signature algorithm is
//! supplied by the caller as a closure, so the same parser serves Rekor v1's
//! ECDSA checkpoints, the tiles log's Ed25519 checkpoints and witness
//! cosignatures.
//!
//! A signed note is:
//!
//! ```text
//! <body: one or more lines, each ending in "\n">
//! <empty line>
//! — <key name> <base64(4-byte key hint || signature)>\n     (one or more)
//! ```
//!
//! The dash is U+2014 EM DASH followed by one space. The signature covers the
//! body bytes exactly, including its final newline and excluding the blank
//! separator line.
//!
//! Parsing choices (all strict; a note that fails here is one that at least
//! one upstream client would also reject or misread):
//! * the body is separated from the signatures at the **last** `"\n\n"`, as
//!   the C2SP spec and Rekor's `UnmarshalText` do, so a body may itself
//!   contain blank lines (sigstore-python, which demands exactly one `"\n\n"`,
//!   and sigstore-js, which splits at the first, agree on every note whose
//!   body has none — which is true of every checkpoint);
//! * the whole note must be free of control characters other than `"\n"`
//!   (C2SP: no `\r`, no tabs), so CRLF-mangled notes are rejected instead of
//!   having their signatures checked over different bytes;
//! * every signature line must be exactly `"— " name " " base64 "\n"`: a
//!   non-empty name without Unicode whitespace or `+`, and canonical padded
//!   standard base64 decoding to at least 5 bytes (4-byte hint plus a
//!   non-empty signature);
//! * at most [`MAX_SIGNATURES`] signature lines (C2SP requires accepting at
//!   least 16).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The signature-line prefix: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Upper bound on signature lines in one note. C2SP asks verifiers to accept
/// at least 16; Go's `golang.org/x/mod/sumdb/note` stops at 100, and so do we.
pub const MAX_SIGNATURES: usize = 100;

/// Everything that can be wrong with a note, a checkpoint body or a
/// verification attempt.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error(
        "note contains control character U+{code:04X} at byte {offset}; only newline is allowed"
    )]
    ControlCharacter { code: u32, offset: usize },
    #[error("note has no blank line separating the text from the signatures")]
    MissingSeparator,
    #[error("note has no signature lines")]
    NoSignatures,
    #[error("note has {0} signature lines; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures(usize),
    #[error("signature line {line}: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },

    #[error("checkpoint body must end with a newline")]
    UnterminatedBody,
    #[error("checkpoint body has {0} lines; origin, tree size and root hash are required")]
    TooFewLines(usize),
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    #[error("checkpoint tree size {0:?} is not a decimal integer without leading zeros that fits in 64 bits")]
    BadTreeSize(String),
    #[error("checkpoint root hash is not padded standard base64")]
    BadRootHashEncoding,
    #[error("checkpoint root hash is {0} bytes; SHA-256 roots are 32")]
    BadRootHashLength(usize),
    #[error("checkpoint extension line {0} is empty")]
    EmptyExtensionLine(usize),

    #[error("no signature by key {name:?} with key hint {hint}")]
    NoMatchingSignature { name: String, hint: String },
    #[error("signature by key {name:?} with key hint {hint} does not verify")]
    InvalidSignature { name: String, hint: String },
}

/// A tree head: the body of a checkpoint note.
///
/// Invariant kept by [`Checkpoint::from_body`]: `origin` is non-empty, every
/// extension line is non-empty, and none of the strings contains `"\n"` or
/// another control character. [`Checkpoint::to_body`] trusts its fields; a
/// hand-built value that breaks the invariant produces a body that
/// `from_body` (and every client) rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log identity. Rekor v1 uses `"<hostname> - <tree ID>"` (sigstore-go
    /// relies on the ` - <digits>` suffix to tell v1 from v2 checkpoints); the
    /// tiles log uses its bare hostname, which must equal the trusted-root
    /// `baseUrl` host.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root over the first `size` leaves.
    pub root_hash: [u8; 32],
    /// Opaque lines after the root, without their newlines (e.g. the
    /// `Timestamp: <nanos>` line of older Rekor v1 checkpoints).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// `"origin\nsize\nbase64(root)\n"` followed by each extension line and a
    /// newline: the exact bytes that the log signs.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root_hash)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body (the signed text, without signatures).
    pub fn from_body(body: &str) -> Result<Self, NoteError> {
        check_controls(body)?;
        let text = body.strip_suffix('\n').ok_or(NoteError::UnterminatedBody)?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(NoteError::TooFewLines(lines.len()));
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        let size = parse_tree_size(size)?;
        let root = STANDARD
            .decode(root)
            .map_err(|_| NoteError::BadRootHashEncoding)?;
        let root_hash: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::BadRootHashLength(root.len()))?;
        if let Some(i) = extensions.iter().position(|l| l.is_empty()) {
            return Err(NoteError::EmptyExtensionLine(i + 1));
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root_hash,
            extensions: extensions.iter().map(|l| (*l).to_owned()).collect(),
        })
    }
}

/// C2SP: ASCII decimal with no leading zeroes, except for the empty tree.
fn parse_tree_size(s: &str) -> Result<u64, NoteError> {
    let bad = || NoteError::BadTreeSize(s.to_owned());
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

fn check_controls(text: &str) -> Result<(), NoteError> {
    match text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((offset, c)) => Err(NoteError::ControlCharacter {
            code: c as u32,
            offset,
        }),
        None => Ok(()),
    }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name: non-empty, no Unicode whitespace, no `+`.
    pub name: String,
    /// The first four bytes of the key ID (big-endian uint32 on the wire).
    pub key_hint: [u8; 4],
    /// The algorithm-specific signature bytes (at least one byte).
    pub signature: Vec<u8>,
}

/// A note body and its signatures.
///
/// Invariant kept by [`SignedNote::parse`]: `body` ends with `"\n"` and has no
/// control characters other than newline, and there is at least one
/// signature. [`SignedNote::sign`] takes the body as given, so callers must
/// pass a newline-terminated body (e.g. [`Checkpoint::to_body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note strictly (see the module docs for the rules).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_controls(text)?;
        let split = text.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let body = &text[..split + 1];
        let sig_block = &text[split + 2..];
        if sig_block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(sig_block) = sig_block.strip_suffix('\n') else {
            let line = sig_block.split('\n').count();
            return Err(NoteError::MalformedSignatureLine {
                line,
                reason: "does not end with a newline",
            });
        };
        let lines: Vec<&str> = sig_block.split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(lines.len()));
        }
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, line)| parse_signature_line(line, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedNote {
            body: body.to_owned(),
            signatures,
        })
    }

    /// The note as text: body, blank line, one line per signature.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.body.len() + 1 + 128 * self.signatures.len());
        text.push_str(&self.body);
        text.push('\n');
        for sig in &self.signatures {
            let mut raw = Vec::with_capacity(4 + sig.signature.len());
            raw.extend_from_slice(&sig.key_hint);
            raw.extend_from_slice(&sig.signature);
            text.push_str(SIG_PREFIX);
            text.push_str(&sig.name);
            text.push(' ');
            text.push_str(&STANDARD.encode(raw));
            text.push('\n');
        }
        text
    }

    /// Signs `body` with one key. `sign` receives the exact body bytes and
    /// returns the raw signature (for ECDSA the ASN.1 DER form, as Rekor and
    /// all clients expect).
    pub fn sign(
        body: String,
        name: &str,
        key_hint: [u8; 4],
        sign: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Self {
        let signature = sign(body.as_bytes());
        SignedNote {
            body,
            signatures: vec![NoteSignature {
                name: name.to_owned(),
                key_hint,
                signature,
            }],
        }
    }

    /// Verifies the note against one trusted key identified by `name` and
    /// `key_hint`; `verify(body, signature)` performs the cryptography.
    ///
    /// Signature lines from other keys are ignored (they may be witnesses or a
    /// rotated key), as C2SP requires. At least one line must match the key,
    /// and — following the C2SP recommendation to reject the whole note when
    /// a known key's signature fails — **every** matching line must verify.
    /// A note carrying a good and a bad signature for the same key is thus
    /// rejected: an honest signer never produces one.
    pub fn verify_with(
        &self,
        name: &str,
        key_hint: [u8; 4],
        verify: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Result<(), NoteError> {
        let mut matched = false;
        for sig in &self.signatures {
            if sig.name != name || sig.key_hint != key_hint {
                continue;
            }
            matched = true;
            if !verify(self.body.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: name.to_owned(),
                    hint: hex::encode(key_hint),
                });
            }
        }
        if matched {
            Ok(())
        } else {
            Err(NoteError::NoMatchingSignature {
                name: name.to_owned(),
                hint: hex::encode(key_hint),
            })
        }
    }

    /// Parses the body as a checkpoint. The result means nothing until
    /// [`SignedNote::verify_with`] has succeeded for a trusted key.
    pub fn checkpoint(&self) -> Result<Checkpoint, NoteError> {
        Checkpoint::from_body(&self.body)
    }
}

fn parse_signature_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
    let bad = |reason| NoteError::MalformedSignatureLine {
        line: number,
        reason,
    };
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| bad("must start with an em dash (U+2014) and a space"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| bad("must be a key name and a signature separated by a space"))?;
    if name.is_empty() {
        return Err(bad("key name is empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(bad("key name contains whitespace or '+'"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| bad("signature is not padded standard base64"))?;
    if raw.len() < 5 {
        return Err(bad(
            "signature is shorter than a 4-byte key hint plus one byte",
        ));
    }
    let (hint, signature) = raw.split_at(4);
    let mut key_hint = [0u8; 4];
    key_hint.copy_from_slice(hint);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hint,
        signature: signature.to_vec(),
    })
}

/// The first four bytes of a 32-byte key ID: what a signature line carries.
pub fn key_hint(key_id: &[u8; 32]) -> [u8; 4] {
    let mut hint = [0u8; 4];
    hint.copy_from_slice(&key_id[..4]);
    hint
}

/// Rekor v1's checkpoint key hint: `SHA-256(SPKI DER)[..4]` for every key type
/// (Ed25519 included, unlike C2SP). It is also the prefix of the v1 log ID.
pub fn rekor_v1_key_hint(spki_der: &[u8]) -> [u8; 4] {
    key_hint(&Sha256::digest(spki_der).into())
}

/// C2SP Ed25519 key ID (signature type 0x01):
/// `SHA-256(name || 0x0A || 0x01 || 32-byte public key)`. For a tiles log the
/// name is its origin, and the full hash is the log ID published in the
/// trusted root.
pub fn c2sp_ed25519_key_id(name: &str, raw_public_key: &[u8; 32]) -> [u8; 32] {
    typed_key_id(name, 0x01, raw_public_key)
}

/// Key ID of an ECDSA note key as rekor-tiles (`note.KeyHash`) and
/// sigstore-go compute it: `SHA-256(SPKI DER)`, independent of the key name,
/// hence equal to the RFC 6962 / Rekor v1 log ID of the same key.
pub fn c2sp_ecdsa_key_id(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

/// C2SP `tlog-cosignature/v1` Ed25519 witness key ID (signature type 0x04):
/// `SHA-256(name || 0x0A || 0x04 || 32-byte public key)`.
pub fn c2sp_cosignature_key_id(name: &str, raw_public_key: &[u8; 32]) -> [u8; 32] {
    typed_key_id(name, 0x04, raw_public_key)
}

fn typed_key_id(name: &str, sig_type: u8, key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(key);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/tests/data/upstream/sigstore-python/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn checkpoint_of(bundle: &str) -> String {
        upstream(bundle)["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
            ["envelope"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The staging trusted root's log key with this base URL, as SPKI DER.
    fn staging_log_key(base_url: &str) -> Vec<u8> {
        let root = upstream("trusted_root.sigstage.json");
        let tlog = root["tlogs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["baseUrl"] == base_url)
            .unwrap();
        STANDARD
            .decode(tlog["publicKey"]["rawBytes"].as_str().unwrap())
            .unwrap()
    }

    fn staging_log_id(base_url: &str) -> Vec<u8> {
        let root = upstream("trusted_root.sigstage.json");
        let tlog = root["tlogs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["baseUrl"] == base_url)
            .unwrap();
        STANDARD
            .decode(tlog["logId"]["keyId"].as_str().unwrap())
            .unwrap()
    }

    fn verify_p256(spki: &[u8]) -> impl Fn(&[u8], &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        use p256::pkcs8::DecodePublicKey;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki).unwrap();
        move |msg, sig| {
            p256::ecdsa::Signature::from_der(sig)
                .map(|s| key.verify(msg, &s).is_ok())
                .unwrap_or(false)
        }
    }

    /// Real Rekor v1 checkpoint (staging, 2023) with the old `Timestamp:`
    /// extension line, verified with the staging log key.
    #[test]
    fn rekor_v1_checkpoint_with_extension() {
        let text = checkpoint_of("bundle.txt.sigstore");
        let note = SignedNote::parse(&text).unwrap();
        assert_eq!(note.to_text(), text);
        let cp = note.checkpoint().unwrap();
        assert_eq!(cp.origin, "rekor.sigstage.dev - 8050909264565447525");
        assert_eq!(cp.size, 7376159);
        assert_eq!(
            STANDARD.encode(cp.root_hash),
            "LE67t2Zlc0g35az81xMg0cgM2DULj8fNsGGHTcRthcs="
        );
        assert_eq!(cp.extensions, vec!["Timestamp: 1682468469199678948"]);
        assert_eq!(cp.to_body(), note.body);

        let spki = staging_log_key("https://rekor.sigstage.dev");
        let hint = rekor_v1_key_hint(&spki);
        assert_eq!(
            hint.to_vec(),
            staging_log_id("https://rekor.sigstage.dev")[..4]
        );
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.signatures[0].name, "rekor.sigstage.dev");
        assert_eq!(note.signatures[0].key_hint, hint);
        note.verify_with("rekor.sigstage.dev", hint, verify_p256(&spki))
            .unwrap();
        assert_eq!(
            c2sp_ecdsa_key_id(&spki).to_vec(),
            staging_log_id("https://rekor.sigstage.dev")
        );

        // Any change to the body breaks the signature.
        let mut tampered = note.clone();
        tampered.body = tampered.body.replace("7376159", "7376160");
        assert_eq!(
            tampered.verify_with("rekor.sigstage.dev", hint, verify_p256(&spki)),
            Err(NoteError::InvalidSignature {
                name: "rekor.sigstage.dev".into(),
                hint: hex::encode(hint)
            })
        );
        assert!(matches!(
            note.verify_with("rekor.sigstore.dev", hint, verify_p256(&spki)),
            Err(NoteError::NoMatchingSignature { .. })
        ));
        assert!(matches!(
            note.verify_with("rekor.sigstage.dev", [0, 0, 0, 0], verify_p256(&spki)),
            Err(NoteError::NoMatchingSignature { .. })
        ));
    }

    /// A current-format Rekor v1 checkpoint (no extension lines).
    #[test]
    fn rekor_v1_checkpoint_plain() {
        let text = checkpoint_of("bundle_v3.txt.sigstore");
        let note = SignedNote::parse(&text).unwrap();
        let cp = note.checkpoint().unwrap();
        assert_eq!(cp.size, 25901138);
        assert!(cp.extensions.is_empty());
        let spki = staging_log_key("https://rekor.sigstage.dev");
        note.verify_with(
            "rekor.sigstage.dev",
            rekor_v1_key_hint(&spki),
            verify_p256(&spki),
        )
        .unwrap();
        assert_eq!(note.to_text(), text);
    }

    /// Real rekor-tiles (v2) checkpoint with the log's Ed25519 signature and
    /// three witness cosignatures (C2SP tlog-cosignature, 8-byte timestamp +
    /// 64-byte signature).
    #[test]
    fn rekor_v2_checkpoint_with_cosignatures() {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        use ed25519_dalek::Verifier;

        let text = checkpoint_of("a.dsse.staging-rekor-v2.txt.sigstore.json");
        let note = SignedNote::parse(&text).unwrap();
        assert_eq!(note.to_text(), text);
        let cp = note.checkpoint().unwrap();
        assert_eq!(cp.origin, "log2025-alpha3.rekor.sigstage.dev");
        assert_eq!(cp.size, 4026479);
        assert_eq!(note.signatures.len(), 4);
        let names: Vec<&str> = note.signatures.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "log2025-alpha3.rekor.sigstage.dev",
                "witness.stagemole.eu",
                "staging.witness.transparency.goog/ring-any-bells",
                "witness.navigli.sunlight.geomys.org",
            ]
        );
        for witness in &note.signatures[1..] {
            assert_eq!(witness.signature.len(), 8 + 64);
        }
        assert_eq!(note.signatures[0].signature.len(), 64);

        let base = "https://log2025-alpha3.rekor.sigstage.dev";
        let spki = staging_log_key(base);
        let key = ed25519_dalek::VerifyingKey::from_public_key_der(&spki).unwrap();
        let id = c2sp_ed25519_key_id(&cp.origin, key.as_bytes());
        assert_eq!(id.to_vec(), staging_log_id(base));
        assert_ne!(rekor_v1_key_hint(&spki), key_hint(&id));
        note.verify_with(&cp.origin, key_hint(&id), |msg, sig| {
            ed25519_dalek::Signature::from_slice(sig)
                .map(|s| key.verify(msg, &s).is_ok())
                .unwrap_or(false)
        })
        .unwrap();
    }

    #[test]
    fn key_id_formulas() {
        // Independent computation of SHA-256("name\n\x01" || pk) etc.
        let pk = [7u8; 32];
        let mut m = b"example.com/log\n\x01".to_vec();
        m.extend_from_slice(&pk);
        assert_eq!(
            c2sp_ed25519_key_id("example.com/log", &pk),
            <[u8; 32]>::from(Sha256::digest(&m))
        );
        m[16] = 0x04;
        assert_eq!(
            c2sp_cosignature_key_id("example.com/log", &pk),
            <[u8; 32]>::from(Sha256::digest(&m))
        );
        assert_eq!(
            rekor_v1_key_hint(b"spki"),
            key_hint(&c2sp_ecdsa_key_id(b"spki"))
        );
    }

    /// C2SP signed-note's own example: the vkey
    /// `example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k`
    /// verifies this note.
    #[test]
    fn c2sp_spec_example() {
        use ed25519_dalek::Verifier;
        let text = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let note = SignedNote::parse(text).unwrap();
        assert_eq!(note.body, "This is an example message.\n");
        let vkey = STANDARD
            .decode("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
        assert_eq!(vkey[0], 0x01);
        let pk: [u8; 32] = vkey[1..].try_into().unwrap();
        let id = c2sp_ed25519_key_id("example.com/foo", &pk);
        assert_eq!(hex::encode(key_hint(&id)), "530d903a");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        note.verify_with("example.com/foo", key_hint(&id), |msg, sig| {
            ed25519_dalek::Signature::from_slice(sig)
                .map(|s| key.verify(msg, &s).is_ok())
                .unwrap_or(false)
        })
        .unwrap();
        // A body containing blank lines is split at the last one.
        let poem = "a\n\nb\n\n\u{2014} k AAAAAAE=\n";
        let note = SignedNote::parse(poem).unwrap();
        assert_eq!(note.body, "a\n\nb\n");
    }

    #[test]
    fn sign_and_round_trip() {
        let cp = Checkpoint {
            origin: "rekor.example.internal - 1234".into(),
            size: 0,
            root_hash: crate::merkle::empty_root(),
            extensions: vec![],
        };
        let body = cp.to_body();
        assert_eq!(
            body,
            "rekor.example.internal - 1234\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        let note = SignedNote::sign(body.clone(), "rekor.example.internal", [1, 2, 3, 4], |m| {
            let mut s = b"sig:".to_vec();
            s.extend_from_slice(&Sha256::digest(m));
            s
        });
        let text = note.to_text();
        assert!(text.starts_with(&format!(
            "{body}\n\u{2014} rekor.example.internal AQIDBHNpZz"
        )));
        let back = SignedNote::parse(&text).unwrap();
        assert_eq!(back, note);
        assert_eq!(back.checkpoint().unwrap(), cp);
        let check = |m: &[u8], s: &[u8]| s.starts_with(b"sig:") && s[4..] == Sha256::digest(m)[..];
        back.verify_with("rekor.example.internal", [1, 2, 3, 4], check)
            .unwrap();

        // A second, failing signature by the same key poisons the note.
        let mut doubled = back.clone();
        let mut bad = doubled.signatures[0].clone();
        bad.signature[5] ^= 1;
        doubled.signatures.push(bad);
        assert!(matches!(
            doubled.verify_with("rekor.example.internal", [1, 2, 3, 4], check),
            Err(NoteError::InvalidSignature { .. })
        ));
        // Foreign signatures are ignored.
        let mut witnessed = back.clone();
        witnessed.signatures.push(NoteSignature {
            name: "witness.example".into(),
            key_hint: [9; 4],
            signature: vec![0; 72],
        });
        let witnessed = SignedNote::parse(&witnessed.to_text()).unwrap();
        witnessed
            .verify_with("rekor.example.internal", [1, 2, 3, 4], check)
            .unwrap();

        let with_ext = Checkpoint {
            extensions: vec!["Timestamp: 1".into(), "x y".into()],
            size: u64::MAX,
            ..cp
        };
        assert_eq!(
            Checkpoint::from_body(&with_ext.to_body()).unwrap(),
            with_ext
        );
    }

    const ROOT: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const SIG: &str = "AQIDBAU=";

    fn note(body: &str, sigs: &str) -> String {
        format!("{body}\n{sigs}")
    }

    #[test]
    fn rejects_malformed_notes() {
        let body = format!("o\n1\n{ROOT}\n");
        let ok = note(&body, &format!("\u{2014} k {SIG}\n"));
        SignedNote::parse(&ok).unwrap();

        let line_err = |text: &str| match SignedNote::parse(text) {
            Err(NoteError::MalformedSignatureLine { reason, .. }) => reason,
            other => panic!("{text:?} gave {other:?}"),
        };
        // Missing blank line: the signature line is glued to the body.
        assert_eq!(
            SignedNote::parse(&format!("{body}\u{2014} k {SIG}\n")),
            Err(NoteError::MissingSeparator)
        );
        // Nothing after the blank line, or only another blank line.
        assert_eq!(
            SignedNote::parse(&note(&body, "")),
            Err(NoteError::NoSignatures)
        );
        assert_eq!(
            SignedNote::parse(&format!("{ok}\n")),
            Err(NoteError::NoSignatures)
        );
        // Wrong dashes and spacing.
        line_err(&note(&body, &format!("- k {SIG}\n")));
        line_err(&note(&body, &format!("\u{2013} k {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014}k {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014}  k {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014} k  {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014} k {SIG} \n")));
        line_err(&note(&body, &format!("\u{2014} k {SIG} extra\n")));
        line_err(&note(&body, &format!("\u{2014} {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014} k+1 {SIG}\n")));
        line_err(&note(&body, &format!("\u{2014} k\u{a0}x {SIG}\n")));
        // Bad base64: invalid characters, missing padding, URL-safe alphabet,
        // non-canonical trailing bits.
        line_err(&note(&body, "\u{2014} k AQID*AU=\n"));
        line_err(&note(&body, "\u{2014} k AQIDBAU\n"));
        line_err(&note(&body, "\u{2014} k __8_BAU=\n"));
        line_err(&note(&body, "\u{2014} k AQIDBAV=\n"));
        // Too short: only a key hint.
        assert_eq!(
            line_err(&note(&body, "\u{2014} k AQIDBA==\n")),
            "signature is shorter than a 4-byte key hint plus one byte"
        );
        // Trailing garbage: missing final newline, text after the signatures.
        line_err(&note(&body, &format!("\u{2014} k {SIG}")));
        line_err(&note(&body, &format!("\u{2014} k {SIG}\ngarbage\n")));
        line_err(&note(&body, &format!("\u{2014} k {SIG}\n\u{2014} k")));
        // Control characters anywhere.
        assert!(matches!(
            SignedNote::parse(&ok.replace('\n', "\r\n")),
            Err(NoteError::ControlCharacter { code: 0x0d, .. })
        ));
        assert!(matches!(
            SignedNote::parse(&ok.replacen('o', "o\t", 1)),
            Err(NoteError::ControlCharacter { code: 9, .. })
        ));
        // Signature count limit.
        let many = format!("\u{2014} k {SIG}\n").repeat(MAX_SIGNATURES);
        SignedNote::parse(&note(&body, &many)).unwrap();
        let too_many = format!("\u{2014} k {SIG}\n").repeat(MAX_SIGNATURES + 1);
        assert_eq!(
            SignedNote::parse(&note(&body, &too_many)),
            Err(NoteError::TooManySignatures(MAX_SIGNATURES + 1))
        );
    }

    #[test]
    fn rejects_malformed_checkpoints() {
        let parse = |b: &str| Checkpoint::from_body(b);
        parse(&format!("o\n0\n{ROOT}\n")).unwrap();
        assert_eq!(
            parse(&format!("o\n1\n{ROOT}")),
            Err(NoteError::UnterminatedBody)
        );
        assert_eq!(parse("o\n1\n"), Err(NoteError::TooFewLines(2)));
        assert_eq!(parse(""), Err(NoteError::UnterminatedBody));
        assert_eq!(
            parse(&format!("\n1\n{ROOT}\n")),
            Err(NoteError::EmptyOrigin)
        );
        for size in [
            "",
            "01",
            "00",
            "-1",
            "+1",
            "1.0",
            "0x10",
            " 1",
            "1 ",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(
                parse(&format!("o\n{size}\n{ROOT}\n")),
                Err(NoteError::BadTreeSize(size.into())),
                "{size:?}"
            );
        }
        assert_eq!(
            parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n"),
            Err(NoteError::BadRootHashEncoding)
        );
        assert_eq!(
            parse("o\n1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n"),
            Err(NoteError::BadRootHashEncoding)
        );
        assert_eq!(parse("o\n1\nAAAA\n"), Err(NoteError::BadRootHashLength(3)));
        assert_eq!(
            parse(&format!("o\n1\n{ROOT}AAAA\n")),
            Err(NoteError::BadRootHashEncoding)
        );
        assert_eq!(
            parse("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
            Err(NoteError::BadRootHashLength(36))
        );
        assert_eq!(
            parse(&format!("o\n1\n{ROOT}\next\n\n")),
            Err(NoteError::EmptyExtensionLine(2))
        );
        assert!(matches!(
            parse(&format!("o\r\n1\n{ROOT}\n")),
            Err(NoteError::ControlCharacter { .. })
        ));
        // A note whose body is not a checkpoint parses as a note but not as a
        // checkpoint.
        let n = SignedNote::parse(&format!("hello\n\n\u{2014} k {SIG}\n")).unwrap();
        assert_eq!(n.checkpoint(), Err(NoteError::TooFewLines(1)));
    }
}
