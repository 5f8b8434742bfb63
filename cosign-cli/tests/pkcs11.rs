//! `--key pkcs11:...` against SoftHSM2 (a token in a temp directory): the key
//! never leaves the token, and what it signs verifies with the public key
//! `cosign public-key` prints. Skipped (with the reason printed) only where
//! SoftHSM2 is not installed; CI installs it (`scripts/deps.sh`).

use std::path::Path;
use std::process::{Command, Output};

use sigstack_pkcs11::softhsm::MODULE;
const COSIGN: &str = env!("CARGO_BIN_EXE_cosign");

fn run(dir: &Path, conf: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(COSIGN);
    c.args(args)
        .current_dir(dir)
        .env("SOFTHSM2_CONF", conf)
        .env_remove("COSIGN_PKCS11_PIN")
        .env_remove("COSIGN_PKCS11_MODULE_PATH");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "cosign failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn sign_blob_with_a_token_key() {
    if let Some(why) = sigstack_pkcs11::softhsm::unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let conf = sigstack_pkcs11::softhsm::init_token(d, "cosign", "2324").unwrap();
    // The key is made in the token (as `tuf-root keygen pkcs11:` does).
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let config = sigstack_pkcs11::Pkcs11Config::new(MODULE, "cosign", "2324");
    sigstack_pkcs11::generate_key(&config, "signer").unwrap();

    let uri = format!("pkcs11:token=cosign;object=signer?module-path={MODULE}&pin-value=2324");
    let public = ok(&run(d, &conf, &["public-key", "--key", &uri], &[]));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    std::fs::write(d.join("hsm.pub"), &public).unwrap();
    std::fs::write(d.join("a.txt"), "signed in the token").unwrap();

    // The PIN and module from COSIGN_PKCS11_PIN / COSIGN_PKCS11_MODULE_PATH.
    let bare = "pkcs11:token=cosign;object=signer";
    let envs = [
        ("COSIGN_PKCS11_PIN", "2324"),
        ("COSIGN_PKCS11_MODULE_PATH", MODULE),
    ];
    ok(&run(
        d,
        &conf,
        &[
            "sign-blob",
            "--key",
            bare,
            "--tlog-upload=false",
            "--bundle",
            "a.json",
            "a.txt",
        ],
        &envs,
    ));
    let verify = |blob: &str| {
        run(
            d,
            &conf,
            &[
                "verify-blob",
                "--key",
                "hsm.pub",
                "--bundle",
                "a.json",
                "--insecure-ignore-tlog=true",
                "--trusted-root",
                &trusted_root(d),
                blob,
            ],
            &[],
        )
    };
    ok(&verify("a.txt"));
    std::fs::write(d.join("b.txt"), "not what the token signed").unwrap();
    assert_eq!(verify("b.txt").status.code(), Some(1));

    // A wrong PIN, an unknown label, and no PIN at all: refused with a reason.
    for (bad, why) in [
        (
            format!("pkcs11:token=cosign;object=signer?module-path={MODULE}&pin-value=0000"),
            "PIN",
        ),
        (
            format!("pkcs11:token=cosign;object=nobody?module-path={MODULE}&pin-value=2324"),
            "nobody",
        ),
        (
            format!("pkcs11:token=cosign;object=signer?module-path={MODULE}"),
            "COSIGN_PKCS11_PIN",
        ),
    ] {
        let o = run(d, &conf, &["public-key", "--key", &bad], &[]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "want {why:?} in {err}");
    }
}

/// An empty trusted root: a key bundle without a log entry needs nothing
/// from it.
fn trusted_root(d: &Path) -> String {
    let p = d.join("root.json");
    std::fs::write(
        &p,
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#,
    )
    .unwrap();
    p.to_str().unwrap().to_owned()
}
