//! Command line: the same commands, flags and environment variables as Go
//! cosign v3 (`COSIGN_<FLAG>` for flags, `COSIGN_PASSWORD`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Parser, Subcommand};

use crate::keys::PrivateKey;
use crate::{keyfile, password};

#[derive(Parser)]
#[command(
    name = "cosign",
    version,
    about = "A cosign-compatible client for a private Sigstore"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate an ECDSA P-256 key pair: <prefix>.key (encrypted, 0600) and <prefix>.pub.
    GenerateKeyPair {
        #[arg(
            long = "output-key-prefix",
            env = "COSIGN_OUTPUT_KEY_PREFIX",
            default_value = "cosign"
        )]
        output_key_prefix: String,
        /// Overwrite existing files without asking.
        #[arg(short = 'y', long = "yes")]
        yes: bool,
    },
    /// Encrypt an existing PEM private key into cosign's format.
    ImportKeyPair {
        #[arg(short = 'k', long = "key", env = "COSIGN_KEY")]
        key: String,
        #[arg(
            short = 'o',
            long = "output-key-prefix",
            env = "COSIGN_OUTPUT_KEY_PREFIX",
            default_value = "import-cosign"
        )]
        output_key_prefix: String,
        #[arg(short = 'y', long = "yes")]
        yes: bool,
    },
    /// Sign a blob: with --key or keyless (Fulcio), recorded in Rekor, written
    /// as a Sigstore bundle (--bundle).
    SignBlob {
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: Option<String>,
        /// Write the Sigstore bundle (v0.3) here.
        #[arg(long = "bundle", env = "COSIGN_BUNDLE")]
        bundle: Option<String>,
        /// Write the base64 signature here (deprecated upstream; still works).
        #[arg(long = "output-signature", env = "COSIGN_OUTPUT_SIGNATURE")]
        output_signature: Option<String>,
        /// Write the PEM certificate here (keyless).
        #[arg(
            long = "output-certificate",
            alias = "output-cert",
            env = "COSIGN_OUTPUT_CERTIFICATE"
        )]
        output_certificate: Option<String>,
        #[arg(long = "signing-config", env = "COSIGN_SIGNING_CONFIG")]
        signing_config: Option<String>,
        #[arg(long = "use-signing-config", env = "COSIGN_USE_SIGNING_CONFIG", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        use_signing_config: bool,
        /// Accepted for compatibility; signing does not need it.
        #[arg(long = "trusted-root", env = "COSIGN_TRUSTED_ROOT")]
        trusted_root: Option<String>,
        /// An OIDC ID token, or a file holding one.
        #[arg(long = "identity-token", env = "COSIGN_IDENTITY_TOKEN")]
        identity_token: Option<String>,
        #[arg(long = "fulcio-url", env = "COSIGN_FULCIO_URL")]
        fulcio_url: Option<String>,
        #[arg(long = "rekor-url", env = "COSIGN_REKOR_URL")]
        rekor_url: Option<String>,
        #[arg(long = "tlog-upload", env = "COSIGN_TLOG_UPLOAD", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        tlog_upload: bool,
        #[arg(long = "new-bundle-format", env = "COSIGN_NEW_BUNDLE_FORMAT", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        new_bundle_format: bool,
        #[arg(short = 'y', long = "yes")]
        yes: bool,
        blob: String,
    },
    /// Verify a blob: a Sigstore bundle against a trusted root (offline), or a
    /// bare signature with a key (--signature --insecure-ignore-tlog).
    VerifyBlob {
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: Option<String>,
        /// File with the base64 signature (without a bundle).
        #[arg(long = "signature", env = "COSIGN_SIGNATURE")]
        signature: Option<String>,
        #[arg(long = "bundle", env = "COSIGN_BUNDLE")]
        bundle: Option<String>,
        #[arg(long = "trusted-root", env = "COSIGN_TRUSTED_ROOT")]
        trusted_root: Option<String>,
        #[arg(
            long = "certificate-identity",
            alias = "cert-identity",
            env = "COSIGN_CERTIFICATE_IDENTITY"
        )]
        certificate_identity: Option<String>,
        #[arg(
            long = "certificate-identity-regexp",
            env = "COSIGN_CERTIFICATE_IDENTITY_REGEXP"
        )]
        certificate_identity_regexp: Option<String>,
        #[arg(
            long = "certificate-oidc-issuer",
            alias = "cert-oidc-issuer",
            env = "COSIGN_CERTIFICATE_OIDC_ISSUER"
        )]
        certificate_oidc_issuer: Option<String>,
        #[arg(
            long = "certificate-oidc-issuer-regexp",
            env = "COSIGN_CERTIFICATE_OIDC_ISSUER_REGEXP"
        )]
        certificate_oidc_issuer_regexp: Option<String>,
        #[arg(
            long = "certificate-github-workflow-trigger",
            env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_TRIGGER"
        )]
        github_workflow_trigger: Option<String>,
        #[arg(
            long = "certificate-github-workflow-sha",
            env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_SHA"
        )]
        github_workflow_sha: Option<String>,
        #[arg(
            long = "certificate-github-workflow-name",
            env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_NAME"
        )]
        github_workflow_name: Option<String>,
        #[arg(
            long = "certificate-github-workflow-repository",
            env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_REPOSITORY"
        )]
        github_workflow_repository: Option<String>,
        #[arg(
            long = "certificate-github-workflow-ref",
            env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_REF"
        )]
        github_workflow_ref: Option<String>,
        #[arg(long = "insecure-ignore-tlog", env = "COSIGN_INSECURE_IGNORE_TLOG", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        insecure_ignore_tlog: bool,
        #[arg(long = "insecure-ignore-sct", env = "COSIGN_INSECURE_IGNORE_SCT", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        insecure_ignore_sct: bool,
        /// A file, `-` for stdin, or (with a bundle) `sha256:<hex>`.
        blob: String,
    },
    /// Print the public key of a private key.
    PublicKey {
        /// Key reference: a file or env://VAR.
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: String,
        #[arg(long = "outfile", env = "COSIGN_OUTFILE")]
        outfile: Option<String>,
    },
}

pub fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a key reference: a path, or `env://VAR` (the PEM in a variable).
pub fn read_key_ref(r: &str) -> Result<Vec<u8>> {
    if let Some(var) = r.strip_prefix("env://") {
        return std::env::var(var)
            .map(String::into_bytes)
            .map_err(|_| anyhow!("environment variable {var} is not set"));
    }
    std::fs::read(r).with_context(|| format!("reading key {r}"))
}

/// Loads a cosign private key (encrypted file or env://), asking for the password.
pub fn load_private_key(r: &str) -> Result<PrivateKey> {
    let pem = read_key_ref(r)?;
    let der = keyfile::decrypt(&pem, &password::read()?)?;
    Ok(PrivateKey::from_pkcs8_der(&der)?)
}

/// A blob from a path, or stdin for `-`.
pub(crate) fn read_blob(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {path}"))
}

fn confirm_overwrite(path: &Path, yes: bool) -> Result<()> {
    if !path.exists() || yes {
        return Ok(());
    }
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } == 1 {
        eprint!("File {} already exists. Overwrite (y/n)? ", path.display());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    bail!("{} already exists (use --yes to overwrite)", path.display())
}

pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // An existing file keeps its old mode on open; a key must end up 0600.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn write_pair(prefix: &str, key: &PrivateKey, pass: &[u8], yes: bool) -> Result<()> {
    let (kp, pp) = (format!("{prefix}.key"), format!("{prefix}.pub"));
    confirm_overwrite(Path::new(&kp), yes)?;
    confirm_overwrite(Path::new(&pp), yes)?;
    let pem = keyfile::encrypt(&key.to_pkcs8_der()?, pass)?;
    write_file(Path::new(&kp), pem.as_bytes(), 0o600)?;
    eprintln!("Private key written to {kp}");
    write_file(Path::new(&pp), key.public_key().to_pem().as_bytes(), 0o644)?;
    eprintln!("Public key written to {pp}");
    Ok(())
}

/// `verify-blob --key K --signature S --insecure-ignore-tlog`: a bare
/// signature, no bundle and no log.
fn verify_bare_signature(
    key: Option<String>,
    signature: Option<String>,
    insecure_ignore_tlog: bool,
    blob: &str,
) -> Result<()> {
    let (Some(key), Some(signature)) = (key, signature) else {
        bail!("either --bundle, or --key with --signature, is required");
    };
    if !insecure_ignore_tlog {
        bail!("a bare signature has no transparency log entry to verify: pass a --bundle, or --insecure-ignore-tlog=true");
    }
    eprintln!("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the blob.");
    let public = sigstack_core::keys::PublicKey::from_pem(&read_key_ref(&key)?)
        .map_err(|e| anyhow!("loading public key {key}: {e}"))?;
    let text = std::fs::read_to_string(&signature)
        .with_context(|| format!("reading signature {signature}"))?;
    let sig = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow!("signature {signature} is not base64"))?;
    let data = read_blob(blob)?;
    public
        .verify_message(&data, &sig)
        .map_err(|_| anyhow!("invalid signature when validating ASN.1 encoded signature"))?;
    eprintln!("Verified OK");
    Ok(())
}

fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::GenerateKeyPair {
            output_key_prefix,
            yes,
        } => {
            let pass = password::read_new()?;
            write_pair(&output_key_prefix, &PrivateKey::generate_p256(), &pass, yes)
        }
        Cmd::ImportKeyPair {
            key,
            output_key_prefix,
            yes,
        } => {
            let pk = PrivateKey::from_pem(&read_key_ref(&key)?)?;
            let pass = password::read_new()?;
            write_pair(&output_key_prefix, &pk, &pass, yes)
        }
        Cmd::SignBlob {
            key,
            bundle,
            output_signature,
            output_certificate,
            signing_config,
            use_signing_config,
            trusted_root: _,
            identity_token,
            fulcio_url,
            rekor_url,
            tlog_upload,
            new_bundle_format,
            yes: _,
            blob,
        } => crate::blob::sign(crate::blob::SignArgs {
            key,
            bundle,
            output_signature,
            output_certificate,
            signing_config,
            use_signing_config,
            identity_token,
            fulcio_url,
            rekor_url,
            tlog_upload,
            new_bundle_format,
            blob,
        }),
        Cmd::VerifyBlob {
            key,
            signature,
            bundle,
            trusted_root,
            certificate_identity,
            certificate_identity_regexp,
            certificate_oidc_issuer,
            certificate_oidc_issuer_regexp,
            github_workflow_trigger,
            github_workflow_sha,
            github_workflow_name,
            github_workflow_repository,
            github_workflow_ref,
            insecure_ignore_tlog,
            insecure_ignore_sct,
            blob,
        } => {
            let Some(bundle) = bundle else {
                return verify_bare_signature(key, signature, insecure_ignore_tlog, &blob);
            };
            crate::blob::verify(crate::blob::VerifyArgs {
                key,
                bundle,
                trusted_root,
                identity: certificate_identity,
                identity_regexp: certificate_identity_regexp,
                issuer: certificate_oidc_issuer,
                issuer_regexp: certificate_oidc_issuer_regexp,
                github: [
                    github_workflow_trigger,
                    github_workflow_sha,
                    github_workflow_name,
                    github_workflow_repository,
                    github_workflow_ref,
                ],
                ignore_tlog: insecure_ignore_tlog,
                ignore_sct: insecure_ignore_sct,
                blob,
            })
        }
        Cmd::PublicKey { key, outfile } => {
            let pem = load_private_key(&key)?.public_key().to_pem();
            match outfile {
                Some(p) => {
                    write_file(Path::new(&p), pem.as_bytes(), 0o644)?;
                    eprintln!("Public key written to {p}");
                }
                None => print!("{pem}"),
            }
            Ok(())
        }
    }
}
