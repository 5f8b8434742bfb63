//! Vectors: the public-good Sigstore root (5 ECDSA signatures over OLPC
//! canonical JSON whose PEM keys contain raw newlines) and a snapshot of the
//! staging repository as sigstore-python's tests carry it.

use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;

const PUBLIC_ROOT: &[u8] = include_bytes!("testdata/public-good-root.json");
const STAGING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tuf/testdata/staging");

struct DirFetcher(std::path::PathBuf, Vec<String>);

impl Fetcher for DirFetcher {
    fn fetch(&mut self, path: &str, max_len: u64) -> Result<Option<Vec<u8>>, TufError> {
        self.1.push(path.to_string());
        match std::fs::read(self.0.join(path)) {
            Ok(b) if b.len() as u64 > max_len => Err(TufError::Fetch {
                name: path.into(),
                msg: "too large".into(),
            }),
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TufError::Fetch {
                name: path.into(),
                msg: e.to_string(),
            }),
        }
    }
}

#[test]
fn public_good_root_signatures_and_key_ids() {
    let env = Envelope::from_slice(PUBLIC_ROOT).unwrap();
    let root: Root = env.parse().unwrap();
    assert_eq!(root.common.version, 15);
    // Every listed key ID is the hash of the canonical key object, extras
    // (tuf-on-ci's x-tuf-on-ci-keyowner) included.
    for (id, key) in &root.keys {
        assert_eq!(&key.key_id().unwrap(), id);
    }
    // Threshold 3 of 5, and all five signatures verify.
    assert_eq!(root.verify_role("root", &env, "root").unwrap(), 5);
    TrustedSet::new(PUBLIC_ROOT, datetime!(2026-01-01 0:00 UTC)).unwrap();
    // Re-emitting the typed root keeps every field, so it signs the same bytes.
    let again = serde_json::to_value(&root).unwrap();
    assert_eq!(
        cjson::encode(&again).unwrap(),
        env.canonical_signed().unwrap()
    );
}

#[test]
fn a_changed_byte_breaks_the_threshold() {
    let mut env = Envelope::from_slice(PUBLIC_ROOT).unwrap();
    env.signed["version"] = serde_json::json!(16);
    let root: Root = env.parse().unwrap();
    let err = root.verify_role("root", &env, "root").unwrap_err();
    assert!(matches!(err, TufError::Threshold { valid: 0, .. }), "{err}");
    // Dropping to two valid signatures is below the threshold of 3.
    let mut env = Envelope::from_slice(PUBLIC_ROOT).unwrap();
    env.signatures.truncate(2);
    let err = root_of(&env).verify_role("root", &env, "root").unwrap_err();
    assert!(
        matches!(
            err,
            TufError::Threshold {
                valid: 2,
                threshold: 3,
                ..
            }
        ),
        "{err}"
    );
    // A duplicated signature entry is refused outright (python-tuf).
    let mut env = Envelope::from_slice(PUBLIC_ROOT).unwrap();
    let first = env.signatures[0].clone();
    env.signatures.push(first);
    assert!(root_of(&env).verify_role("root", &env, "root").is_err());
}

fn root_of(env: &Envelope) -> Root {
    env.parse().unwrap()
}

#[test]
fn staging_repository_refreshes_and_targets_verify() {
    let root = std::fs::read(format!("{STAGING}/root.json")).unwrap();
    let mut set = TrustedSet::new(&root, datetime!(2025-07-20 0:00 UTC)).unwrap();
    let mut f = DirFetcher(STAGING.into(), Vec::new());
    refresh(&mut set, &mut f).unwrap();
    assert_eq!(
        f.1[..3],
        ["15.root.json", "timestamp.json", "16.snapshot.json"]
    );
    assert_eq!(set.targets().unwrap().common.version, 17);
    let tr = fetch_target(&set, &mut f, "trusted_root.json").unwrap();
    crate::trust::TrustedRoot::from_json(&tr).unwrap();
    // Once the timestamp has expired, the same repository is refused.
    let mut late = TrustedSet::new(&root, datetime!(2025-08-01 0:00 UTC)).unwrap();
    let err = refresh(&mut late, &mut f).unwrap_err();
    assert!(
        matches!(err, TufError::Expired { ref role, .. } if role == "timestamp"),
        "{err}"
    );
}

#[test]
fn expires_format_is_strict() {
    assert!(parse_expires("2030-01-01T00:00:00Z").is_ok());
    for bad in [
        "2030-01-01T00:00:00.5Z",
        "2030-01-01T00:00:00+00:00",
        "2030-01-01",
    ] {
        assert!(parse_expires(bad).is_err(), "{bad}");
    }
    assert_eq!(
        format_expires(datetime!(2030-01-01 12:34:56.999 UTC)),
        "2030-01-01T12:34:56Z"
    );
}

#[test]
fn key_encodings() {
    let ed = crate::keys::SigningKey::generate_ed25519();
    let k = Key::from_public_key(&ed.public_key()).unwrap();
    assert_eq!(
        (k.keytype.as_str(), k.scheme.as_str()),
        ("ed25519", "ed25519")
    );
    assert_eq!(k.keyval["public"].len(), 64);
    k.verify(b"m", &hex::encode(ed.sign(b"m"))).unwrap();
    assert!(k.verify(b"n", &hex::encode(ed.sign(b"m"))).is_err());
    let ec = crate::keys::SigningKey::generate_p256();
    let k = Key::from_public_key(&ec.public_key()).unwrap();
    assert_eq!(
        (k.keytype.as_str(), k.scheme.as_str()),
        ("ecdsa", "ecdsa-sha2-nistp256")
    );
    assert!(k.keyval["public"].starts_with("-----BEGIN PUBLIC KEY-----\n"));
    k.verify(b"m", &hex::encode(ec.sign(b"m"))).unwrap();
    // A scheme we cannot verify is an error, not a silent pass.
    let mut odd = k.clone();
    odd.scheme = "rsassa-pss-sha256".into();
    assert!(odd.verify(b"m", &hex::encode(ec.sign(b"m"))).is_err());
    // Key IDs are stable across keyval map order and cover extra fields.
    let mut extra = k.clone();
    extra
        .extra
        .insert("x-owner".into(), serde_json::json!("alice"));
    assert_ne!(extra.key_id().unwrap(), k.key_id().unwrap());
    let _: BTreeMap<String, String> = k.keyval.clone();
}
