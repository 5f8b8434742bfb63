//! `sign-blob` and `verify-blob` with bundles: the v3 defaults of Go cosign
//! (a Sigstore bundle v0.3 with a Rekor entry; keyless through Fulcio), and
//! verification against a trusted root that makes no network call.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sigstack_core::keys::{sha256_key_id, PublicKey};
use sigstack_core::trust::{
    select_service, Bundle, BundleContent, HashOutput, MessageSignature, PublicKeyIdentifier,
    SigningConfig, TrustedRoot, VerificationMaterial, VerificationMaterialContent, X509Certificate,
    BUNDLE_MEDIA_TYPE_V0_3,
};
use sigstack_core::verify::{
    self, Artifact, IdentityPolicy, Matcher, Options, SignerPolicy, VerifyError,
};
use time::OffsetDateTime;

use crate::cli::{load_private_key, read_blob, read_key_ref, write_file};
use crate::client::{self, Http};
use crate::keys::PrivateKey;

/// Go cosign's default `--timeout`.
const TIMEOUT: Duration = Duration::from_secs(180);

pub struct SignArgs {
    pub key: Option<String>,
    pub bundle: Option<String>,
    pub output_signature: Option<String>,
    pub output_certificate: Option<String>,
    pub signing_config: Option<String>,
    pub use_signing_config: bool,
    pub identity_token: Option<String>,
    pub fulcio_url: Option<String>,
    pub rekor_url: Option<String>,
    pub tlog_upload: bool,
    pub new_bundle_format: bool,
    pub blob: String,
}

/// Where to sign: Fulcio and Rekor URLs (only the ones needed).
struct Services {
    fulcio: Option<String>,
    rekor: Option<String>,
}

/// The services from `--signing-config`, or from the deprecated URL flags
/// with `--use-signing-config=false`, with Go cosign's rules: the two are
/// exclusive, and with neither the TUF-provided config would be used.
fn services(a: &SignArgs) -> Result<Services> {
    let flags = a.fulcio_url.is_some() || a.rekor_url.is_some();
    if let Some(path) = &a.signing_config {
        if flags {
            bail!("cannot specify service URLs and use signing config");
        }
        let sc = SigningConfig::from_json(
            &std::fs::read(path).with_context(|| format!("reading signing config {path}"))?,
        )
        .map_err(|e| anyhow!("signing config {path}: {e}"))?;
        let now = OffsetDateTime::now_utc();
        return Ok(Services {
            fulcio: select_service(&sc.ca_urls, &[1], now).map(|s| s.url.clone()),
            // Rekor v2 (tiles) is not written by this client yet: v1 only.
            rekor: select_service(&sc.rekor_tlog_urls, &[1], now).map(|s| s.url.clone()),
        });
    }
    if a.use_signing_config {
        if flags {
            bail!("cannot specify service URLs and use signing config");
        }
        bail!("no signing config: pass --signing-config FILE (the TUF-distributed signing config needs `cosign initialize`, which this client does not have yet), or --use-signing-config=false with --fulcio-url/--rekor-url");
    }
    Ok(Services {
        fulcio: Some(
            a.fulcio_url
                .clone()
                .unwrap_or_else(|| "https://fulcio.sigstore.dev".into()),
        ),
        rekor: Some(
            a.rekor_url
                .clone()
                .unwrap_or_else(|| "https://rekor.sigstore.dev".into()),
        ),
    })
}

/// The signing key and what the bundle says about it.
enum Signer {
    Key(PrivateKey),
    /// Ephemeral key plus its Fulcio chain (DER, leaf first).
    Keyless(PrivateKey, Vec<Vec<u8>>),
}

pub fn sign(a: SignArgs) -> Result<()> {
    if a.new_bundle_format && a.bundle.is_none() && (a.tlog_upload || a.key.is_none()) {
        bail!("must provide --bundle with --new-bundle-format (the default)");
    }
    let data = read_blob(&a.blob)?;
    eprintln!("Using payload from: {}", a.blob);
    let needs_services = a.tlog_upload || a.key.is_none();
    let svc = if needs_services {
        Some(services(&a)?)
    } else {
        None
    };
    let http = Http::new(TIMEOUT)?;

    let signer = match &a.key {
        Some(k) => Signer::Key(load_private_key(k)?),
        None => {
            let token = match a
                .identity_token
                .clone()
                .or_else(|| std::env::var("SIGSTORE_ID_TOKEN").ok())
            {
                Some(t) => client::resolve_token(&t)?,
                None => bail!("no identity token: pass --identity-token (a token or a file holding one) or set SIGSTORE_ID_TOKEN; interactive OIDC flows are not supported by this client yet"),
            };
            let fulcio = svc.as_ref().and_then(|s| s.fulcio.clone()).ok_or_else(|| {
                anyhow!("the signing config names no Fulcio (caUrls) with API version 1")
            })?;
            let key = PrivateKey::generate_p256();
            let subject = client::token_subject(&token)?;
            let chain = http.fulcio_certificate(&fulcio, &token, &key, &subject)?;
            eprintln!("Successfully retrieved a signing certificate from {fulcio}");
            Signer::Keyless(key, chain)
        }
    };
    let (key, chain) = match &signer {
        Signer::Key(k) => (k, None),
        Signer::Keyless(k, c) => (k, Some(c)),
    };
    let public = key.public_key();
    if a.tlog_upload && matches!(public, PublicKey::Ed25519(_)) {
        bail!("Ed25519 keys sign hashedrekord entries as Ed25519ph, which this client does not do yet; use an ECDSA or RSA key, or --tlog-upload=false");
    }
    let alg = public.default_hash();
    let digest = alg.digest(&data);
    let signature = key.sign(&data)?;

    let verifier_pem = match chain {
        Some(c) => sigstack_core::pem::encode("CERTIFICATE", &c[0]),
        None => public.to_pem(),
    };
    let mut entries = Vec::new();
    if a.tlog_upload {
        let rekor = svc.as_ref().and_then(|s| s.rekor.clone()).ok_or_else(|| {
            anyhow!("the signing config names no Rekor (rekorTlogUrls) with API version 1")
        })?;
        let entry = http.rekor_upload(
            &rekor,
            &client::hashedrekord(alg, &digest, &signature, &verifier_pem),
        )?;
        eprintln!("tlog entry created with index: {}", entry.log_index);
        entries.push(entry);
    }

    if let Some(path) = &a.bundle {
        let content = match chain {
            Some(c) => VerificationMaterialContent::Certificate(X509Certificate {
                raw_bytes: c[0].clone(),
            }),
            None => VerificationMaterialContent::PublicKey(PublicKeyIdentifier {
                hint: STANDARD.encode(sha256_key_id(&public.to_spki_der())),
            }),
        };
        let bundle = Bundle {
            media_type: BUNDLE_MEDIA_TYPE_V0_3.into(),
            verification_material: VerificationMaterial {
                content,
                tlog_entries: entries,
                timestamp_verification_data: None,
            },
            content: BundleContent::MessageSignature(MessageSignature {
                message_digest: Some(HashOutput {
                    algorithm: trust_hash(alg),
                    digest: digest.clone(),
                }),
                signature: signature.clone(),
            }),
        };
        let json = serde_json::to_vec(&bundle)?;
        write_file(Path::new(path), &json, 0o644)?;
        eprintln!("Wrote bundle to file {path}");
    }
    if let Some(path) = &a.output_signature {
        write_file(
            Path::new(path),
            STANDARD.encode(&signature).as_bytes(),
            0o644,
        )?;
        eprintln!("Wrote signature to file {path}");
    }
    if let Some(path) = &a.output_certificate {
        let pem = verifier_pem.as_bytes();
        write_file(Path::new(path), pem, 0o644)?;
        eprintln!("Wrote certificate to file {path}");
    }
    if a.bundle.is_none() && a.output_signature.is_none() {
        println!("{}", STANDARD.encode(&signature));
    }
    Ok(())
}

fn trust_hash(a: sigstack_core::keys::HashAlgorithm) -> sigstack_core::trust::HashAlgorithm {
    use sigstack_core::keys::HashAlgorithm as K;
    use sigstack_core::trust::HashAlgorithm as T;
    match a {
        K::Sha256 => T::Sha2_256,
        K::Sha384 => T::Sha2_384,
        K::Sha512 => T::Sha2_512,
    }
}

pub struct VerifyArgs {
    pub key: Option<String>,
    pub bundle: String,
    pub trusted_root: Option<String>,
    pub identity: Option<String>,
    pub identity_regexp: Option<String>,
    pub issuer: Option<String>,
    pub issuer_regexp: Option<String>,
    /// trigger, sha, name, repository, ref (`1.3.6.1.4.1.57264.1.2` to `.6`).
    pub github: [Option<String>; 5],
    pub ignore_tlog: bool,
    pub ignore_sct: bool,
    pub blob: String,
}

fn matcher(exact: &Option<String>, regexp: &Option<String>, what: &str) -> Result<Matcher> {
    match (exact, regexp) {
        (Some(e), _) => Ok(Matcher::Exact(e.clone())),
        (None, Some(r)) => Ok(Matcher::regex(r)?),
        (None, None) => bail!(
            "--certificate-{what} or --certificate-{what}-regexp is required for verification in keyless mode"
        ),
    }
}

/// The policy from the flags: `--key`, or an identity and an issuer (both
/// required, as in Go cosign).
fn policy(a: &VerifyArgs) -> Result<SignerPolicy> {
    if let Some(k) = &a.key {
        if a.identity.is_some() || a.identity_regexp.is_some() {
            bail!("--key and --certificate-identity are mutually exclusive");
        }
        let pk = PublicKey::from_pem(&read_key_ref(k)?)
            .map_err(|e| anyhow!("loading public key {k}: {e}"))?;
        return Ok(SignerPolicy::Key(pk));
    }
    let subject = matcher(&a.identity, &a.identity_regexp, "identity")?;
    let issuer = matcher(&a.issuer, &a.issuer_regexp, "oidc-issuer")?;
    let extensions = a
        .github
        .iter()
        .zip(2u32..)
        .filter_map(|(v, arc)| {
            let oid =
                der::oid::ObjectIdentifier::new(&format!("1.3.6.1.4.1.57264.1.{arc}")).ok()?;
            v.clone().map(|v| (oid, v))
        })
        .collect();
    Ok(SignerPolicy::Identity(IdentityPolicy {
        subject,
        issuer,
        extensions,
    }))
}

pub fn verify(a: VerifyArgs) -> Result<()> {
    let policy = policy(&a)?;
    let Some(root_path) = &a.trusted_root else {
        bail!("no trusted root: pass --trusted-root FILE (the TUF-distributed trusted root needs `cosign initialize`, which this client does not have yet)");
    };
    let root = TrustedRoot::from_json(
        &std::fs::read(root_path).with_context(|| format!("reading trusted root {root_path}"))?,
    )
    .map_err(|e| anyhow!("trusted root {root_path}: {e}"))?;
    let bundle = Bundle::from_json(
        &std::fs::read(&a.bundle).with_context(|| format!("reading bundle {}", a.bundle))?,
    )
    .map_err(|e| anyhow!("bundle {}: {e}", a.bundle))?;

    let digest_ref;
    let data;
    let artifact = match a.blob.strip_prefix("sha256:") {
        Some(hex_digest) => {
            digest_ref = hex::decode(hex_digest)
                .ok()
                .filter(|d| d.len() == 32)
                .ok_or_else(|| anyhow!("{} is not sha256:<64 hex digits>", a.blob))?;
            Artifact::Digest(sigstack_core::keys::HashAlgorithm::Sha256, &digest_ref)
        }
        None => {
            data = read_blob(&a.blob)?;
            Artifact::Bytes(&data)
        }
    };
    let opts = Options {
        ignore_tlog: a.ignore_tlog,
        ignore_sct: a.ignore_sct,
        now: OffsetDateTime::now_utc(),
    };
    if a.ignore_tlog {
        eprintln!("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the blob.");
    }
    verify::verify_bundle(&bundle, &root, artifact, &policy, &opts)
        .map_err(|e: VerifyError| anyhow!("verifying bundle {}: {e}", a.bundle))?;
    eprintln!("Verified OK");
    Ok(())
}
