//! The publisher against the client rules of `sigstack_core::tuf`: every
//! attack from the issue, on repositories this crate generated.

use std::path::{Path, PathBuf};

use sigstack_core::tuf::{self, Envelope, Role, Root, TrustedSet, TufError};
use time::{Duration, OffsetDateTime};

use crate::keys::{self, KeyRef};
use crate::repo::{verify_dir, DirFetcher, InitOptions, RootStatus, RotateOptions, Workspace};
use crate::trust::{self, ChainInput, LogInput, TrustInput};
use crate::{Error, Expiry};

const STAGING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../core/src/tuf/testdata/staging/targets"
);

fn staging(suffix: &str) -> Vec<u8> {
    let dir = std::fs::read_dir(STAGING).unwrap();
    for e in dir {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(suffix) {
            return std::fs::read(p).unwrap();
        }
    }
    panic!("no staging file {suffix}");
}

fn key(dir: &Path, name: &str) -> KeyRef {
    let r = KeyRef::File(dir.join(format!("{name}.pem")));
    keys::generate(&r, false, false).unwrap();
    r
}

fn public_of(dir: &Path, r: &KeyRef) -> KeyRef {
    let LoadedKeyPem(pem) = pem_of(r);
    let p = dir.join(format!(
        "{}.pub.pem",
        keys::load(r).unwrap().key().key_id().unwrap()
    ));
    std::fs::write(&p, pem).unwrap();
    KeyRef::File(p)
}

struct LoadedKeyPem(String);
fn pem_of(r: &KeyRef) -> LoadedKeyPem {
    let k = keys::load(r).unwrap();
    LoadedKeyPem(k.key().public_key().unwrap().to_pem())
}

struct Fixture {
    _tmp: tempfile::TempDir,
    keys: PathBuf,
    ws: Workspace,
    root_keys: Vec<KeyRef>,
}

fn fixture_with(n_root: usize, threshold: u64, expiry: Expiry) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let kd = tmp.path().join("keys");
    let root_keys: Vec<KeyRef> = (0..n_root).map(|i| key(&kd, &format!("root{i}"))).collect();
    let opts = InitOptions {
        root_keys: root_keys.clone(),
        root_threshold: threshold,
        targets_keys: vec![key(&kd, "targets")],
        snapshot_keys: vec![key(&kd, "snapshot")],
        timestamp_keys: vec![key(&kd, "timestamp")],
        expiry,
    };
    let (ws, status) = Workspace::init(&tmp.path().join("ws"), opts).unwrap();
    assert_eq!(status, RootStatus::Published(1));
    Fixture {
        keys: kd,
        _tmp: tmp,
        ws,
        root_keys,
    }
}

fn fixture() -> Fixture {
    fixture_with(2, 2, Expiry::default())
}

fn read(ws: &Workspace, name: &str) -> Vec<u8> {
    std::fs::read(ws.repository().join(name)).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn trust_input() -> TrustInput {
    let chain = sigstack_core::pem::parse_all(
        &[
            staging("fulcio_intermediate.crt.pem"),
            staging("fulcio.crt.pem"),
        ]
        .concat(),
    )
    .unwrap()
    .into_iter()
    .map(|b| b.contents)
    .collect();
    let spki = |pem: &[u8]| {
        sigstack_core::keys::PublicKey::from_pem(pem)
            .unwrap()
            .to_spki_der()
    };
    TrustInput {
        fulcio: Some(ChainInput {
            url: "http://fulcio.test".into(),
            chain_der: chain,
        }),
        rekor: Some(LogInput {
            url: "http://rekor.test/".into(),
            spki_der: spki(&staging("rekor.pub")),
        }),
        ctlog: Some(LogInput {
            url: "http://ctlog.test/test".into(),
            spki_der: spki(&staging("ctfe_2022_2.pub")),
        }),
        rekor_v2: None,
        tsa: None,
        oidc_url: Some("http://oidc.test".into()),
        operator: "sigstack.test".into(),
        start: None,
        old_end: None,
    }
}

fn publish_trust(ws: &Workspace, input: &TrustInput) {
    let (root, _) = trust::merge_trusted_root(None, input, now()).unwrap();
    let sc = trust::merge_signing_config(None, input, now());
    ws.add_target(
        "trusted_root.json",
        &trust::to_bytes(&root).unwrap(),
        None,
        None,
    )
    .unwrap();
    ws.add_target(
        "signing_config.v0.2.json",
        &trust::to_bytes(&sc).unwrap(),
        None,
        None,
    )
    .unwrap();
}

#[test]
fn init_publishes_a_repository_a_client_accepts() {
    let f = fixture_with(3, 2, Expiry::default());
    let set = verify_dir(&f.ws.repository(), None, now()).unwrap();
    let root = set.root();
    assert_eq!(root.role("root").unwrap().threshold, 2);
    assert_eq!(root.role("root").unwrap().keyids.len(), 3);
    assert!(root.consistent_snapshot);
    for name in [
        "1.root.json",
        "root.json",
        "1.targets.json",
        "1.snapshot.json",
        "timestamp.json",
    ] {
        assert!(f.ws.repository().join(name).is_file(), "{name}");
    }
    // Every key ID in root is the TUF hash of its key object.
    for (id, k) in &root.keys {
        assert_eq!(&k.key_id().unwrap(), id);
    }
    // Expiries are whole seconds (python-tuf parses them with strptime).
    let raw: serde_json::Value = serde_json::from_slice(&read(&f.ws, "timestamp.json")).unwrap();
    let expires = raw["signed"]["expires"].as_str().unwrap();
    assert_eq!(expires.len(), 20, "{expires}");
    // A second ceremony in the same place is refused.
    let again = Workspace::init(
        f.ws.dir(),
        InitOptions {
            root_keys: f.root_keys.clone(),
            root_threshold: 1,
            targets_keys: f.root_keys.clone(),
            snapshot_keys: f.root_keys.clone(),
            timestamp_keys: f.root_keys.clone(),
            expiry: Expiry::default(),
        },
    );
    assert!(again.is_err());
}

#[test]
fn encrypted_keys_and_ceremony_with_a_key_held_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let kd = tmp.path().join("keys");
    std::env::set_var(keys::PASSPHRASE_ENV, "correct horse");
    let enc = KeyRef::File(kd.join("enc.pem"));
    keys::generate(&enc, false, true).unwrap();
    let text = std::fs::read_to_string(kd.join("enc.pem")).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(kd.join("enc.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let ed = KeyRef::File(kd.join("ed.pem"));
    keys::generate(&ed, true, false).unwrap();
    let remote = key(&kd, "remote");
    let remote_pub = public_of(&kd, &remote);
    let opts = InitOptions {
        root_keys: vec![enc.clone(), ed.clone(), remote_pub],
        root_threshold: 3,
        targets_keys: vec![key(&kd, "t")],
        snapshot_keys: vec![key(&kd, "s")],
        timestamp_keys: vec![key(&kd, "ts")],
        expiry: Expiry::default(),
    };
    let (ws, status) = Workspace::init(&tmp.path().join("ws"), opts).unwrap();
    // Two of three signatures: root v1 waits for the third key holder.
    assert!(
        matches!(status, RootStatus::Staged { version: 1, .. }),
        "{status:?}"
    );
    assert!(ws.state().is_err());
    // A key that is not a root key cannot sign it.
    let stranger = key(&kd, "stranger");
    assert!(matches!(
        ws.sign_root(&[stranger]),
        Err(Error::NotInRole { .. })
    ));
    assert_eq!(ws.sign_root(&[remote]).unwrap(), RootStatus::Published(1));
    let set = verify_dir(&ws.repository(), None, now()).unwrap();
    let schemes: Vec<&str> = set
        .root()
        .keys
        .values()
        .map(|k| k.scheme.as_str())
        .collect();
    assert!(schemes.contains(&"ed25519"), "{schemes:?}");
}

#[test]
fn trust_targets_are_published_and_checked() {
    let f = fixture();
    let input = trust_input();
    publish_trust(&f.ws, &input);
    let set = verify_dir(&f.ws.repository(), None, now()).unwrap();
    let mut fetch = DirFetcher(f.ws.repository());
    let tr = tuf::fetch_target(&set, &mut fetch, "trusted_root.json").unwrap();
    let tr = trust::validate_trusted_root(&tr).unwrap();
    assert_eq!(tr.tlogs[0].base_url, "http://rekor.test");
    // Log IDs as upstream computed them for the same keys: the staging
    // trusted_root.json lists the Rekor and CT log keys we fed in.
    let staging =
        sigstack_core::trust::TrustedRoot::from_json(&staging("trusted_root.json")).unwrap();
    let upstream_id = |logs: &[sigstack_core::trust::TransparencyLogInstance], spki: &[u8]| {
        logs.iter()
            .find(|l| l.public_key.raw_bytes.as_deref() == Some(spki))
            .map(|l| l.log_id.key_id.clone())
            .expect("the staging root lists this key")
    };
    assert_eq!(
        tr.tlogs[0].log_id.key_id,
        upstream_id(&staging.tlogs, &input.rekor.as_ref().unwrap().spki_der)
    );
    assert_eq!(
        tr.ctlogs[0].log_id.key_id,
        upstream_id(&staging.ctlogs, &input.ctlog.as_ref().unwrap().spki_der)
    );
    assert_eq!(
        tr.certificate_authorities[0].cert_chain.certificates.len(),
        2
    );
    assert!(!tr.certificate_authorities[0].subject.common_name.is_empty());
    let raw: serde_json::Value =
        serde_json::from_slice(&tuf::fetch_target(&set, &mut fetch, "trusted_root.json").unwrap())
            .unwrap();
    assert_eq!(raw["timestampAuthorities"], serde_json::json!([]));
    assert_eq!(raw["tlogs"][0]["hashAlgorithm"], "SHA2_256");
    let sc = trust::validate_signing_config(
        &tuf::fetch_target(&set, &mut fetch, "signing_config.v0.2.json").unwrap(),
    )
    .unwrap();
    assert_eq!(sc.ca_urls[0].url, "http://fulcio.test");
    assert_eq!(sc.oidc_urls[0].url, "http://oidc.test");
}

#[test]
fn the_publisher_refuses_bad_trust_material_and_foreign_keys() {
    let f = fixture();
    let before = read(&f.ws, "timestamp.json");
    // The v0.2 media type: sigstore-python and cosign reject it.
    let mut tr = trust::merge_trusted_root(None, &trust_input(), now())
        .unwrap()
        .0;
    tr.media_type = sigstack_core::trust::TRUSTED_ROOT_MEDIA_TYPE_V0_2.into();
    let err =
        f.ws.add_target(
            "trusted_root.json",
            &trust::to_bytes(&tr).unwrap(),
            None,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::TrustedRoot(_)), "{err}");
    // Unknown fields, missing lists, a log without validFor, garbage.
    let good = trust::to_bytes(
        &trust::merge_trusted_root(None, &trust_input(), now())
            .unwrap()
            .0,
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    v["extra"] = serde_json::json!(1);
    let mut no_ct: serde_json::Value = serde_json::from_slice(&good).unwrap();
    no_ct.as_object_mut().unwrap().remove("ctlogs");
    let mut no_valid: serde_json::Value = serde_json::from_slice(&good).unwrap();
    no_valid["tlogs"][0]["publicKey"]
        .as_object_mut()
        .unwrap()
        .remove("validFor");
    let mut short_id: serde_json::Value = serde_json::from_slice(&good).unwrap();
    short_id["tlogs"][0]["logId"]["keyId"] = serde_json::json!("AAAA");
    for bad in [
        serde_json::to_vec(&v).unwrap(),
        serde_json::to_vec(&no_ct).unwrap(),
        serde_json::to_vec(&no_valid).unwrap(),
        serde_json::to_vec(&short_id).unwrap(),
        b"{".to_vec(),
    ] {
        assert!(f
            .ws
            .add_target("trusted_root.json", &bad, None, None)
            .is_err());
    }
    // A signing config without selectors.
    let mut sc = trust::merge_signing_config(None, &trust_input(), now());
    sc.tsa_config = None;
    assert!(matches!(
        f.ws.add_target(
            "signing_config.v0.2.json",
            &trust::to_bytes(&sc).unwrap(),
            None,
            None
        ),
        Err(Error::SigningConfig(_))
    ));
    // Signing targets with the snapshot key.
    let snapshot_key = KeyRef::File(f.keys.join("snapshot.pem"));
    let err =
        f.ws.add_target("x.txt", b"x", None, Some(&[snapshot_key]))
            .unwrap_err();
    assert!(
        matches!(err, Error::NotInRole { ref role, .. } if role == "targets"),
        "{err}"
    );
    // Path tricks in target names.
    for name in ["../x", "/x", "a//b", ".", "a/../b", "a b"] {
        assert!(f.ws.add_target(name, b"x", None, None).is_err(), "{name}");
    }
    // Nothing was published by any of the refused calls.
    assert_eq!(read(&f.ws, "timestamp.json"), before);
    assert_eq!(f.ws.state().unwrap().targets.version(), 1);
}

#[test]
fn rotating_a_service_key_keeps_the_old_one_for_old_signatures() {
    let f = fixture();
    let input = trust_input();
    let t0 = now();
    let (tr, _) = trust::merge_trusted_root(None, &input, t0).unwrap();
    let new_key = sigstack_core::keys::SigningKey::generate_p256()
        .public_key()
        .to_spki_der();
    let rotate = TrustInput {
        rekor: Some(LogInput {
            url: "http://rekor.test".into(),
            spki_der: new_key.clone(),
        }),
        old_end: Some(t0 + Duration::days(7)),
        start: Some(t0 + Duration::hours(1)),
        ..Default::default()
    };
    let (tr2, changes) = trust::merge_trusted_root(Some(tr.clone()), &rotate, t0).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(tr2.tlogs.len(), 2);
    let old = &tr2.tlogs[0];
    assert_eq!(old.public_key.raw_bytes, tr.tlogs[0].public_key.raw_bytes);
    assert_eq!(
        old.public_key
            .valid_for
            .as_ref()
            .unwrap()
            .end
            .unwrap()
            .unix_timestamp(),
        (t0 + Duration::days(7)).unix_timestamp()
    );
    assert_eq!(
        tr2.tlogs[1].public_key.raw_bytes.as_deref(),
        Some(new_key.as_slice())
    );
    assert!(tr2.tlogs[1]
        .public_key
        .valid_for
        .as_ref()
        .unwrap()
        .end
        .is_none());
    // Same material again: no change.
    let (tr3, changes) = trust::merge_trusted_root(Some(tr2.clone()), &rotate, t0).unwrap();
    assert!(changes.is_empty());
    assert_eq!(tr3, tr2);
    // The rotated root publishes and passes the strict checks.
    f.ws.add_target(
        "trusted_root.json",
        &trust::to_bytes(&tr2).unwrap(),
        None,
        None,
    )
    .unwrap();
    verify_dir(&f.ws.repository(), None, now()).unwrap();
}

#[test]
fn refresh_renews_online_roles_only() {
    let f = fixture();
    let s0 = f.ws.state().unwrap();
    let report = f.ws.refresh(false).unwrap();
    assert!(report[0].starts_with("nothing due"), "{report:?}");
    f.ws.refresh(true).unwrap();
    let s1 = f.ws.state().unwrap();
    assert_eq!(s1.timestamp.version(), s0.timestamp.version() + 1);
    assert_eq!(s1.snapshot.version(), s0.snapshot.version());
    assert_eq!(s1.targets.version(), s0.targets.version());
    assert_eq!(s1.root, s0.root);
    // The refresh job needs no root or targets key: remove them.
    for k in ["root0.pem", "root1.pem", "targets.pem"] {
        std::fs::remove_file(f.keys.join(k)).unwrap();
    }
    f.ws.refresh(true).unwrap();
    assert_eq!(
        f.ws.state().unwrap().timestamp.version(),
        s0.timestamp.version() + 2
    );
}

#[test]
fn root_rotation_needs_both_thresholds_and_clients_follow_it() {
    let f = fixture();
    let mut client = TrustedSet::new(&read(&f.ws, "1.root.json"), now()).unwrap();
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    let new_keys = [key(&f.keys, "new0"), key(&f.keys, "new1")];
    // Only one of the two old keys signs, and no new key: staged.
    let status =
        f.ws.rotate_root(RotateOptions {
            old_root_keys: vec![f.root_keys[0].clone()],
            root_keys: Some(vec![
                public_of(&f.keys, &new_keys[0]),
                public_of(&f.keys, &new_keys[1]),
            ]),
            ..Default::default()
        })
        .unwrap();
    let RootStatus::Staged {
        version: 2,
        missing,
    } = status
    else {
        panic!("{status:?}")
    };
    assert!(
        missing.contains("root v1") && missing.contains("root v2"),
        "{missing}"
    );
    assert!(!f.ws.repository().join("2.root.json").exists());
    // The staged root, if someone published it by hand, is refused by a client.
    let staged = std::fs::read(f.ws.dir().join("staged/2.root.json")).unwrap();
    let mut c = client.clone();
    assert!(matches!(
        c.update_root(&staged),
        Err(TufError::Threshold { .. })
    ));
    // The new keys alone still leave the old threshold short.
    assert!(matches!(
        f.ws.sign_root(&new_keys).unwrap(),
        RootStatus::Staged { .. }
    ));
    let staged = std::fs::read(f.ws.dir().join("staged/2.root.json")).unwrap();
    assert!(matches!(
        client.clone().update_root(&staged),
        Err(TufError::Threshold { .. })
    ));
    // The second old key completes it.
    assert_eq!(
        f.ws.sign_root(&[f.root_keys[1].clone()]).unwrap(),
        RootStatus::Published(2)
    );
    f.ws.refresh(true).unwrap();
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    assert_eq!(client.root().version(), 2);
    // Old roots stay, and a published root is never replaced.
    assert!(f.ws.repository().join("1.root.json").is_file());
    assert!(
        crate::repo::write_atomic(&f.ws.repository().join("1.root.json"), b"{}", false).is_err()
    );
    // The old root keys can no longer sign root v3 alone.
    let status = f.ws.rotate_root(RotateOptions {
        old_root_keys: vec![f.root_keys[0].clone()],
        ..Default::default()
    });
    assert!(
        matches!(status, Err(Error::NotInRole { .. })),
        "{:?}",
        status.err()
    );
}

#[test]
fn rotating_the_timestamp_key_re_signs_under_the_new_root() {
    let f = fixture_with(1, 1, Expiry::default());
    let mut client = TrustedSet::new(&read(&f.ws, "1.root.json"), now()).unwrap();
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    let ts2 = key(&f.keys, "timestamp2");
    let status =
        f.ws.rotate_root(RotateOptions {
            old_root_keys: f.root_keys.clone(),
            timestamp_keys: Some(vec![ts2.clone()]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(status, RootStatus::Published(2));
    let ws = Workspace::open(f.ws.dir()).unwrap();
    assert_eq!(ws.config().keys.timestamp, vec![ts2.to_config_string()]);
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    ws.refresh(true).unwrap();
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    assert_eq!(
        client.timestamp().unwrap().version(),
        ws.state().unwrap().timestamp.version()
    );
}

/// A workspace whose `role` expires in one day while the others live ten.
fn short_lived(role: &str) -> Fixture {
    let mut f = fixture_with(
        1,
        1,
        Expiry {
            root: 10,
            targets: 10,
            snapshot: 10,
            timestamp: 10,
        },
    );
    match role {
        "root" => {
            f.ws.config.expiry_days.root = 1;
            f.ws.rotate_root(RotateOptions {
                old_root_keys: f.root_keys.clone(),
                ..Default::default()
            })
            .unwrap();
            f.ws.refresh(true).unwrap();
        }
        "targets" => {
            f.ws.config.expiry_days.targets = 1;
            f.ws.add_target("a.txt", b"a", None, None).unwrap();
        }
        "snapshot" => {
            f.ws.config.expiry_days.snapshot = 1;
            f.ws.add_target("a.txt", b"a", None, None).unwrap();
        }
        _ => {
            f.ws.config.expiry_days.timestamp = 1;
            f.ws.refresh(true).unwrap();
        }
    }
    f
}

#[test]
fn clients_refuse_each_expired_role() {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        let f = short_lived(role);
        verify_dir(&f.ws.repository(), None, now()).unwrap();
        let err = verify_dir(&f.ws.repository(), None, now() + Duration::days(2)).unwrap_err();
        assert!(
            matches!(err, Error::Tuf(TufError::Expired { role: ref r, .. }) if r == role),
            "{role}: {err}"
        );
    }
}

#[test]
fn clients_refuse_rollback() {
    let f = fixture();
    let mut client = TrustedSet::new(&read(&f.ws, "1.root.json"), now()).unwrap();
    let old_ts = read(&f.ws, "timestamp.json");
    f.ws.add_target("a.txt", b"a", None, None).unwrap();
    tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap();
    let seen = client.timestamp().unwrap().version();
    // The mirror serves the older (validly signed) timestamp again.
    std::fs::write(f.ws.repository().join("timestamp.json"), &old_ts).unwrap();
    let err = tuf::refresh(&mut client, &mut DirFetcher(f.ws.repository())).unwrap_err();
    assert!(
        matches!(err, TufError::Rollback { ref role, trusted, .. } if role == "timestamp" && trusted == seen),
        "{err}"
    );
}

#[test]
fn clients_refuse_tampered_targets_and_mixed_metadata() {
    let f = fixture();
    publish_trust(&f.ws, &trust_input());
    let set = verify_dir(&f.ws.repository(), None, now()).unwrap();
    let info = set.targets().unwrap().targets["trusted_root.json"].clone();
    let path = f.ws.repository().join(format!(
        "targets/{}.trusted_root.json",
        info.sha256().unwrap()
    ));
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[10] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let err = tuf::fetch_target(
        &set,
        &mut DirFetcher(f.ws.repository()),
        "trusted_root.json",
    )
    .unwrap_err();
    assert!(matches!(err, TufError::Mismatch { .. }), "{err}");
    std::fs::write(&path, &good).unwrap();

    // Mix and match: the current snapshot's file replaced by an older one
    // (validly signed, but not the bytes the timestamp names).
    let st = f.ws.state().unwrap();
    let cur = format!("{}.snapshot.json", st.snapshot.version());
    let older = read(
        &f.ws,
        &format!("{}.snapshot.json", st.snapshot.version() - 1),
    );
    let saved = read(&f.ws, &cur);
    std::fs::write(f.ws.repository().join(&cur), &older).unwrap();
    let err = verify_dir(&f.ws.repository(), None, now()).unwrap_err();
    // Refused on its hash, or before reading it when it is longer than the
    // length the timestamp gives (ECDSA signatures vary in length).
    let refused = match &err {
        Error::Tuf(TufError::Mismatch { name, .. }) => name == "snapshot.json",
        Error::Tuf(TufError::Fetch { name, msg }) => name == &cur && msg.contains("allowed"),
        _ => false,
    };
    assert!(refused, "{err}");
    std::fs::write(f.ws.repository().join(&cur), &saved).unwrap();

    // Targets metadata from another repository (same name and version).
    let other = fixture();
    publish_trust(&other.ws, &trust_input());
    let name = format!("{}.targets.json", st.targets.version());
    let saved = read(&f.ws, &name);
    std::fs::write(f.ws.repository().join(&name), read(&other.ws, &name)).unwrap();
    assert!(verify_dir(&f.ws.repository(), None, now()).is_err());
    std::fs::write(f.ws.repository().join(&name), &saved).unwrap();
    verify_dir(&f.ws.repository(), None, now()).unwrap();

    // A targets file re-signed with the right key but tampered content is
    // caught by the signature even if an attacker fixes the hashes.
    let mut env = Envelope::from_slice(&saved).unwrap();
    env.signed["targets"]["evil"] = serde_json::json!({"length": 1, "hashes": {"sha256": "00"}});
    let root: Root = Envelope::from_slice(&read(&f.ws, "1.root.json"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(root.verify_role("targets", &env, "targets").is_err());
}

#[test]
fn export_import_round_trip_and_tampering() {
    let f = fixture();
    publish_trust(&f.ws, &trust_input());
    let tmp = tempfile::tempdir().unwrap();
    let tar = tmp.path().join("bundle.tar");
    crate::bundle::export(&f.ws.repository(), &tar).unwrap();
    let bytes = std::fs::read(&tar).unwrap();
    let out = tmp.path().join("imported");
    let hash = crate::bundle::import(&bytes, &out, now()).unwrap();
    assert_eq!(
        hash,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(read(
            &f.ws,
            "1.root.json"
        )))
    );
    verify_dir(
        &out.join("repository"),
        Some(&std::fs::read(out.join("root.json")).unwrap()),
        now(),
    )
    .unwrap();
    // Importing twice into the same place is refused.
    assert!(crate::bundle::import(&bytes, &out, now()).is_err());
    // One flipped byte anywhere in a file's content is caught.
    let files = crate::bundle::read(&bytes).unwrap();
    let (name, content) = files
        .iter()
        .find(|(n, _)| n.ends_with("trusted_root.json"))
        .unwrap();
    let at = bytes
        .windows(content.len())
        .position(|w| w == content.as_slice())
        .unwrap();
    let mut bad = bytes.clone();
    bad[at + 5] ^= 1;
    let err = crate::bundle::import(&bad, &tmp.path().join("x"), now()).unwrap_err();
    assert!(err.to_string().contains("SHA-256"), "{name}: {err}");
    assert!(!tmp.path().join("x").exists());
    // Truncated and non-tar input.
    assert!(crate::bundle::read(&bytes[..bytes.len() - 1024]).is_err());
    assert!(crate::bundle::read(b"not a tar").is_err());
    // An expired repository does not import.
    assert!(
        crate::bundle::import(&bytes, &tmp.path().join("y"), now() + Duration::days(400)).is_err()
    );
}

#[tokio::test]
async fn serve_layout_and_status_codes() {
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt;
    let f = fixture();
    publish_trust(&f.ws, &trust_input());
    let app = crate::serve::router(f.ws.repository());
    let get = |path: &str| {
        let app = app.clone();
        let req = Request::get(path).body(Body::empty()).unwrap();
        async move { app.oneshot(req).await.unwrap() }
    };
    let r = get("/1.root.json").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(
        to_bytes(r.into_body(), 1 << 20).await.unwrap(),
        read(&f.ws, "1.root.json")
    );
    let r = get("/timestamp.json").await;
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(get("/2.root.json").await.status(), 404);
    assert_eq!(get("/../tuf-root.toml").await.status(), 404);
    assert_eq!(get("/.lock").await.status(), 404);
    let st = f.ws.state().unwrap();
    let h = st.targets.targets["trusted_root.json"]
        .sha256()
        .unwrap()
        .to_string();
    assert_eq!(
        get(&format!("/targets/{h}.trusted_root.json"))
            .await
            .status(),
        200
    );
    assert_eq!(get("/healthz").await.status(), 200);
    let m = get("/metrics").await;
    let text = String::from_utf8(to_bytes(m.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("requests"), "{text}");
}

#[test]
fn relative_key_paths_and_a_failed_ceremony() {
    // Under the working directory, so that the key paths can be relative.
    let tmp = tempfile::tempdir_in(".").unwrap();
    let kd = tmp.path().join("keys");
    let keys: Vec<KeyRef> = ["r", "t", "s", "ts"].iter().map(|n| key(&kd, n)).collect();
    // Relative references (as typed at a prompt) are stored absolute.
    let cwd = std::env::current_dir().unwrap();
    let rel = |r: &KeyRef| match r {
        KeyRef::File(p) => KeyRef::File(pathdiff(p, &cwd)),
        other => other.clone(),
    };
    let ws_dir = tmp.path().join("ws");
    let opts = |ts: KeyRef| InitOptions {
        root_keys: vec![rel(&keys[0])],
        root_threshold: 1,
        targets_keys: vec![rel(&keys[1])],
        snapshot_keys: vec![rel(&keys[2])],
        timestamp_keys: vec![ts],
        expiry: Expiry::default(),
    };
    // A timestamp key that cannot be loaded: nothing is left behind...
    let missing = KeyRef::File(tmp.path().join("nope.pem"));
    assert!(Workspace::init(&ws_dir, opts(missing)).is_err());
    assert!(!ws_dir.join("tuf-root.toml").exists());
    assert!(!ws_dir.join("repository/1.root.json").exists());
    // ... so the ceremony can run again.
    let (ws, _) = Workspace::init(&ws_dir, opts(rel(&keys[3]))).unwrap();
    assert!(matches!(rel(&keys[3]), KeyRef::File(p) if p.is_relative()));
    for k in &ws.config().keys.timestamp {
        assert!(Path::new(k).is_absolute(), "{k}");
    }
    Workspace::open(&ws_dir).unwrap().refresh(true).unwrap();
}

/// `p` relative to `base` when it lies under it (else `p`).
fn pathdiff(p: &Path, base: &Path) -> PathBuf {
    p.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

#[test]
fn bundle_to_a_bare_file_name() {
    let f = fixture();
    let tmp = tempfile::tempdir_in(".").unwrap();
    let name = tmp
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let out = PathBuf::from(format!("{name}.tar"));
    crate::bundle::export(&f.ws.repository(), &out).unwrap();
    assert!(out.is_file());
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn a_rekor_v2_log_is_listed_next_to_v1() {
    use sigstack_core::keys::SigningKey;
    let now = time::OffsetDateTime::now_utc();
    let v2_key = SigningKey::generate_ed25519().public_key();
    let mut input = trust_input();
    input.rekor_v2 = Some(LogInput {
        url: "https://log2026-1.rekor.test".into(),
        spki_der: v2_key.to_spki_der(),
    });
    let (root, changes) = crate::trust::merge_trusted_root(None, &input, now).unwrap();
    assert!(
        changes.iter().any(|c| c.contains("Rekor v2")),
        "{changes:?}"
    );
    assert_eq!(root.tlogs.len(), 2);
    let v2 = root
        .tlogs
        .iter()
        .find(|l| l.base_url == "https://log2026-1.rekor.test")
        .unwrap();
    let sigstack_core::keys::PublicKey::Ed25519(k) = &v2_key else {
        unreachable!()
    };
    assert_eq!(
        v2.log_id.key_id,
        sigstack_core::note::c2sp_ed25519_key_id("log2026-1.rekor.test", k.as_bytes()).to_vec()
    );
    let sc = crate::trust::merge_signing_config(None, &input, now);
    let versions: Vec<u32> = sc
        .rekor_tlog_urls
        .iter()
        .map(|s| s.major_api_version)
        .collect();
    assert_eq!(versions, vec![2, 1]);
    // Publishing again keeps both, unchanged.
    let again = crate::trust::merge_signing_config(Some(sc.clone()), &input, now);
    assert_eq!(again, sc);
    // Adding the same v2 key again changes nothing, and v1 stays active.
    let (root2, changes) =
        crate::trust::merge_trusted_root(Some(root.clone()), &input, now).unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(root2, root);
}
