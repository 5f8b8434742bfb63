//! The TSA key on a real PKCS#11 token (SoftHSM2 in a temp directory):
//! `certificate create --pkcs11-config-path` generates it there, and the
//! pkcs11 signer stamps with it. Skipped (with the reason printed) only where
//! SoftHSM2 is not installed; CI installs it (`scripts/deps.sh`).

use sigstack_core::keys::HashAlgorithm;
use sigstack_core::tsp::TimeStampRequest;
use tsa::config::{Config, ServeArgs, SignerKind};

#[test]
fn stamps_with_an_hsm_key() {
    if let Some(why) = sigstack_pkcs11::softhsm::unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = sigstack_pkcs11::softhsm::init_token(tmp.path(), "tsa", "2324").unwrap();
    // Only this test in this binary touches the environment.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let crypto11 = tmp.path().join("crypto11.json");
    std::fs::write(
        &crypto11,
        format!(
            r#"{{"Path":"{}","TokenLabel":"tsa","Pin":"2324"}}"#,
            sigstack_pkcs11::softhsm::MODULE
        ),
    )
    .unwrap();
    let out = tmp.path().join("certs");
    tsa::cli::create_files(
        &out,
        "example",
        "hsm-tsa",
        std::time::Duration::from_secs(86400),
        None,
        Some((&crypto11, "tsa-key")),
    )
    .unwrap();
    assert!(!out.join("tsa.key.pem").exists());
    let args = ServeArgs {
        timestamp_signer: Some(SignerKind::Pkcs11),
        pkcs11_config_path: Some(crypto11.clone()),
        hsm_key_label: Some("tsa-key".into()),
        certificate_chain_path: Some(out.join("chain.pem")),
        ..Default::default()
    };
    let tsa = tsa::cli::open(&Config::resolve(&args).unwrap()).unwrap();
    let req = TimeStampRequest::for_data(HashAlgorithm::Sha256, b"sig");
    let der = tsa.timestamp_der(&req.to_der()).unwrap();
    let resp = sigstack_core::tsp::TimeStampResponse::from_der(&der).unwrap();
    assert_eq!(resp.certificates.len(), 1);
    // Checked against the chain the HSM key was certified in.
    let chain =
        sigstack_core::pem::parse_certificates(&std::fs::read(out.join("chain.pem")).unwrap())
            .unwrap();
    let ca = sigstack_core::trust::CertificateAuthority {
        subject: Default::default(),
        uri: String::new(),
        cert_chain: sigstack_core::trust::X509CertificateChain {
            certificates: chain
                .into_iter()
                .map(|raw_bytes| sigstack_core::trust::X509Certificate { raw_bytes })
                .collect(),
        },
        valid_for: sigstack_core::trust::TimeRange {
            start: time::OffsetDateTime::UNIX_EPOCH,
            end: None,
        },
        operator: String::new(),
    };
    sigstack_core::tsp::verify_timestamp(&der, b"sig", &[ca], req.nonce.as_deref()).unwrap();
    // Another label's key does not match the chain.
    let wrong = ServeArgs {
        hsm_key_label: Some("missing".into()),
        ..args
    };
    assert!(tsa::cli::open(&Config::resolve(&wrong).unwrap()).is_err());
}
