//! `--ca pkcs11ca` against a real PKCS#11 module: SoftHSM2 with a token in a
//! temp directory. Skipped (with the reason printed) only where SoftHSM2 is
//! not installed; CI installs it (`scripts/deps.sh`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use clap::Parser;
use der::Decode;
use fulcio::ca::{self, Ca};
use fulcio::cert::{self, LeafTemplate, TbsSigner};
use fulcio::identity::{Extensions, San};
use fulcio::pkcs11::{generate_key, Pkcs11Config, Pkcs11Signer};
use sigstack_core::keys::{self, SigningKey};
use x509_cert::Certificate;

use sigstack_pkcs11::softhsm::MODULE;
const TOKEN: &str = "fulcio";
const PIN: &str = "2324";

struct Hsm {
    dir: PathBuf,
    config: Pkcs11Config,
    config_path: PathBuf,
}

/// One token for the whole test binary. SOFTHSM2_CONF is set here, before
/// any test loads the module (every test calls this first).
fn hsm() -> Option<&'static Hsm> {
    static HSM: OnceLock<Option<Hsm>> = OnceLock::new();
    HSM.get_or_init(|| {
        if let Some(why) = sigstack_pkcs11::softhsm::unavailable() {
            eprintln!("SKIPPED: {why}");
            return None;
        }
        // Kept after the run (statics are not dropped); under target/tmp.
        let dir = tempfile::Builder::new()
            .prefix("softhsm-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let conf = sigstack_pkcs11::softhsm::init_token(&dir, TOKEN, PIN).unwrap();
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let config_path = dir.join("crypto11.conf");
        std::fs::write(
            &config_path,
            format!(r#"{{"Path":"{MODULE}","TokenLabel":"{TOKEN}","Pin":"{PIN}"}}"#),
        )
        .unwrap();
        let config = Pkcs11Config::from_file(&config_path).unwrap();
        Some(Hsm {
            dir,
            config,
            config_path,
        })
    })
    .as_ref()
}

/// A chain whose intermediate key is `label` in the HSM (generated here).
fn hsm_chain(h: &Hsm, label: &str) -> (Vec<Vec<u8>>, Pkcs11Signer) {
    let spki = generate_key(&h.config, label).unwrap();
    let signer = Pkcs11Signer::open(&h.config, label).unwrap();
    assert_eq!(signer.public_key_der(), spki);
    let created =
        ca::create_ca_for_signer("example", "hsm-test", Duration::from_secs(3600), &signer)
            .unwrap();
    (vec![created.intermediate_der, created.root_der], signer)
}

fn leaf_template() -> LeafTemplate {
    let key = SigningKey::generate_p256();
    LeafTemplate::new(
        key.public_key().to_spki_der(),
        San::Email("alice@example.com".into()),
        Extensions {
            issuer: "https://idp.example".into(),
            ..Default::default()
        },
        SystemTime::now(),
    )
    .unwrap()
}

fn verify_issued(der: &[u8], chain: &[Vec<u8>]) {
    let leaf = Certificate::from_der(der).unwrap();
    let int = Certificate::from_der(&chain[0]).unwrap();
    let int_key = keys::certificate_public_key(&int).unwrap();
    keys::verify_certificate_signature(&leaf, &int_key).unwrap();
    assert_eq!(
        leaf.tbs_certificate.issuer, int.tbs_certificate.subject,
        "leaf issuer is the HSM-backed intermediate"
    );
}

#[test]
fn issues_leaf_signed_in_the_hsm() {
    let Some(h) = hsm() else { return };
    let (chain, signer) = hsm_chain(h, "issue");
    let ca = Ca::new(chain.clone(), Arc::new(signer)).unwrap();
    let t = leaf_template();
    let precert = t.precertificate(&ca.issuer()).unwrap();
    verify_issued(&precert, &chain);
    // The final certificate (SCT list in place of the poison) too.
    let final_cert = t.certificate(&ca.issuer(), &[0, 0]).unwrap();
    verify_issued(&final_cert, &chain);
}

#[test]
fn concurrent_signing_from_eight_threads() {
    let Some(h) = hsm() else { return };
    let (chain, signer) = hsm_chain(h, "concurrent");
    let ca = Arc::new(Ca::new(chain.clone(), Arc::new(signer)).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| leaf_template().precertificate(&ca.issuer()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut n = 0;
    for t in threads {
        for der in t.join().unwrap() {
            verify_issued(&der, &chain);
            n += 1;
        }
    }
    assert_eq!(n, 200);
}

#[test]
fn refuses_misconfiguration_with_clear_errors() {
    let Some(h) = hsm() else { return };
    generate_key(&h.config, "neg").unwrap();

    let e = Pkcs11Signer::open(&h.config.clone().with_pin("0000"), "neg")
        .unwrap_err()
        .to_string();
    assert!(e.contains("CKR_PIN_INCORRECT"), "{e}");
    assert!(!e.contains("0000"), "the PIN must not be shown: {e}");

    let other_token = Pkcs11Config::new(MODULE, "no-such-token", PIN);
    let e = Pkcs11Signer::open(&other_token, "neg")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"no-such-token\" not found") && e.contains("\"fulcio\""),
        "{e}"
    );

    let e = Pkcs11Signer::open(&h.config, "no-such-key")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no private key object with label \"no-such-key\""),
        "{e}"
    );

    let e = generate_key(&h.config, "neg").unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");

    // The key exists but the chain was made for another key.
    let (chain, _) = hsm_chain(h, "chain-key");
    let chain_path = h.dir.join("mismatch-chain.pem");
    std::fs::write(
        &chain_path,
        chain.iter().map(|c| cert::to_pem(c)).collect::<String>(),
    )
    .unwrap();
    let e = Ca::from_pkcs11(&chain_path, &h.config, "neg")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("does not match the first certificate") && e.contains("\"neg\""),
        "{e}"
    );
    // And the right key opens.
    Ca::from_pkcs11(&chain_path, &h.config, "chain-key").unwrap();
}

#[test]
fn ca_create_and_serve_flags() {
    let Some(h) = hsm() else { return };
    let out = h.dir.join("ca-create");
    fulcio::cli::create_ca_files_hsm(
        &out,
        "example",
        "example-fulcio",
        30,
        Some("root-passphrase"),
        &h.config_path,
        "cli-ca",
    )
    .unwrap();
    assert!(out.join("root.key.pem").exists());
    assert!(
        !out.join("intermediate.key.pem").exists(),
        "the intermediate key stays in the HSM"
    );
    let root_key = std::fs::read(out.join("root.key.pem")).unwrap();
    assert!(String::from_utf8_lossy(&root_key).contains("ENCRYPTED PRIVATE KEY"));

    // A second run refuses to overwrite, before generating another key.
    assert!(fulcio::cli::create_ca_files_hsm(
        &out,
        "example",
        "example-fulcio",
        30,
        None,
        &h.config_path,
        "cli-ca-2",
    )
    .is_err());
    assert!(Pkcs11Signer::open(&h.config, "cli-ca-2").is_err());

    let cli = fulcio::cli::Cli::try_parse_from([
        "fulcio",
        "serve",
        "--ca",
        "pkcs11ca",
        "--pkcs11-config-path",
        h.config_path.to_str().unwrap(),
        "--hsm-key-label",
        "cli-ca",
        "--fileca-cert",
        out.join("chain.pem").to_str().unwrap(),
    ])
    .unwrap();
    let fulcio::cli::Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    let service = fulcio::cli::open(&args).unwrap();
    let chain = service.ca.chain_der().to_vec();
    let precert = leaf_template()
        .precertificate(&service.ca.issuer())
        .unwrap();
    verify_issued(&precert, &chain);

    // Without the chain, or with an unknown label: refused at startup.
    let mut bad = args.clone();
    bad.fileca_cert = None;
    assert!(fulcio::cli::open(&bad).is_err());
    let mut bad = args.clone();
    bad.hsm_key_label = "PKCS11CA".into();
    let e = fulcio::cli::open(&bad).err().unwrap().to_string();
    assert!(e.contains("PKCS11CA"), "{e}");
}
