//! TUF role keys on a real PKCS#11 token (SoftHSM2 in a temp directory):
//! root and timestamp keys generated on the token, a repository signed with
//! them that the client rules accept, and no PIN in the workspace config.
//! Skipped (with the reason printed) only where SoftHSM2 is not installed;
//! CI installs it (`scripts/deps.sh`).

use tuf_root::keys::{self, KeyRef};
use tuf_root::repo::{verify_dir, InitOptions, RootStatus, Workspace};
use tuf_root::Expiry;

use sigstack_pkcs11::softhsm::MODULE;
const PIN: &str = "4711";

#[test]
fn roles_signed_on_a_pkcs11_token() {
    if let Some(why) = sigstack_pkcs11::softhsm::unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = sigstack_pkcs11::softhsm::init_token(tmp.path(), "tuf", PIN).unwrap();
    // Only this test in this binary touches the environment.
    std::env::set_var("SOFTHSM2_CONF", &conf);

    let uri = |label: &str| {
        format!("pkcs11:token=tuf;object={label}?module-path={MODULE}&pin-value={PIN}")
    };
    let root = KeyRef::parse(&uri("root")).unwrap();
    let ts = KeyRef::parse(&uri("timestamp")).unwrap();
    let (_, root_id) = keys::generate(&root, false, false).unwrap();
    keys::generate(&ts, false, false).unwrap();
    // A label that is taken is refused, never replaced.
    assert!(keys::generate(&root, false, false).is_err());

    let file = |name: &str| {
        let r = KeyRef::File(tmp.path().join(format!("{name}.pem")));
        keys::generate(&r, false, false).unwrap();
        r
    };
    let (ws, status) = Workspace::init(
        &tmp.path().join("ws"),
        InitOptions {
            root_keys: vec![root.clone()],
            root_threshold: 1,
            targets_keys: vec![file("targets")],
            snapshot_keys: vec![file("snapshot")],
            timestamp_keys: vec![ts.clone()],
            expiry: Expiry::default(),
        },
    )
    .unwrap();
    assert_eq!(status, RootStatus::Published(1));
    let set = verify_dir(&ws.repository(), None, time::OffsetDateTime::now_utc()).unwrap();
    assert!(set.root().role("root").unwrap().keyids.contains(&root_id));

    // The stored reference has no PIN; refresh takes it from the environment.
    let config = std::fs::read_to_string(ws.dir().join("tuf-root.toml")).unwrap();
    assert!(
        config.contains("pkcs11:token=tuf;object=timestamp"),
        "{config}"
    );
    assert!(!config.contains(PIN), "{config}");
    let ws = Workspace::open(ws.dir()).unwrap();
    assert!(
        ws.refresh(true).is_err(),
        "no PIN available must fail loudly"
    );
    std::env::set_var(keys::PIN_ENV, PIN);
    ws.refresh(true).unwrap();
    let set = verify_dir(&ws.repository(), None, time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(set.timestamp().unwrap().common.version, 2);
}
