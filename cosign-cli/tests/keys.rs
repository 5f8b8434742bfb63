//! cosign's key files against files Go cosign v3.0.6 wrote
//! (`COSIGN_PASSWORD=sigstack-test cosign generate-key-pair` and
//! `cosign import-key-pair --key p384.pem`), and our files back.

use cosign_cli::keyfile;
use cosign_cli::keys::PrivateKey;
use sigstack_core::keys::PublicKey;

const GO_KEY: &[u8] = include_bytes!("testdata/cosign.key");
const GO_PUB: &[u8] = include_bytes!("testdata/cosign.pub");
const GO_P384_KEY: &[u8] = include_bytes!("testdata/imp384.key");
const GO_P384_PUB: &[u8] = include_bytes!("testdata/imp384.pub");

#[test]
fn reads_go_cosign_key_files() {
    for (key, public) in [(GO_KEY, GO_PUB), (GO_P384_KEY, GO_P384_PUB)] {
        let der = keyfile::decrypt(key, b"sigstack-test").unwrap();
        let pk = PrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(pk.public_key(), PublicKey::from_pem(public).unwrap());
        // Go's public key file is what we would write, byte for byte.
        assert_eq!(pk.public_key().to_pem().as_bytes(), public);
        assert!(matches!(
            keyfile::decrypt(key, b"wrong"),
            Err(keyfile::KeyFileError::Decrypt)
        ));
    }
}

#[test]
fn our_files_decrypt_and_keep_the_key() {
    for key in [
        PrivateKey::generate_p256(),
        PrivateKey::from_pem(include_bytes!("testdata/p384-sec1.pem")).unwrap(),
    ] {
        let pem = keyfile::encrypt(&key.to_pkcs8_der().unwrap(), b"pw").unwrap();
        let back =
            PrivateKey::from_pkcs8_der(&keyfile::decrypt(pem.as_bytes(), b"pw").unwrap()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }
}

#[test]
fn import_refuses_weak_and_unknown_keys() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    // RSA below 2048 bits, as PKCS#1 and as PKCS#8: refused as upstream's goodkey does.
    let weak = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
    let pkcs1 = weak.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let err = PrivateKey::from_pem(pkcs1.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("1024 bits"), "{err}");
    let der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&weak).unwrap();
    assert!(PrivateKey::from_pkcs8_der(der.as_bytes()).is_err());
    // A 2048-bit key is fine.
    let ok = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    PrivateKey::from_pem(
        ok.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert!(
        PrivateKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .is_err()
    );
    assert!(PrivateKey::from_pem(b"not pem").is_err());
}

/// Signatures without a transparency log: what `cosign sign-blob
/// --tlog-upload=false` writes, verified with the public key (ECDSA with the
/// curve's hash, pure Ed25519, RSA PKCS#1 v1.5).
#[test]
fn blob_signatures_verify_with_the_public_key() {
    let der = keyfile::decrypt(GO_KEY, b"sigstack-test").unwrap();
    let go = PrivateKey::from_pkcs8_der(&der).unwrap();
    let p384 = PrivateKey::from_pem(include_bytes!("testdata/p384-sec1.pem")).unwrap();
    let ed = PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]));
    for key in [go, p384, ed, PrivateKey::generate_p256()] {
        let sig = key.sign(b"blob").unwrap();
        key.public_key().verify_message(b"blob", &sig).unwrap();
        assert!(key.public_key().verify_message(b"blob2", &sig).is_err());
    }
}

#[test]
fn version_env_and_completion() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cosign"));
        c.args(args).env_remove("SIGSTORE_ID_TOKEN");
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    assert!(run(&["version"], &[]).contains(env!("CARGO_PKG_VERSION")));
    let v: serde_json::Value = serde_json::from_str(&run(&["version", "--json"], &[])).unwrap();
    assert_eq!(v["gitVersion"], env!("CARGO_PKG_VERSION"));
    // Secrets are masked unless asked for.
    let env = run(
        &["env"],
        &[("COSIGN_PASSWORD", "hunter2"), ("TUF_ROOT", "/x")],
    );
    assert!(env.contains("COSIGN_PASSWORD=******\n"), "{env}");
    assert!(env.contains("TUF_ROOT=/x\n"));
    assert!(env.contains("# Expects: "));
    let env = run(
        &[
            "env",
            "--show-sensitive-values",
            "--show-descriptions=false",
        ],
        &[("COSIGN_PASSWORD", "hunter2")],
    );
    assert!(env.contains("COSIGN_PASSWORD=hunter2\n"));
    assert!(!env.contains('#'));
    let bash = run(&["completion", "bash"], &[]);
    assert!(bash.contains("verify-blob-attestation"));
}
