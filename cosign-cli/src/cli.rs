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
        #[command(flatten)]
        signing: crate::blob::SigningFlags,
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
        blob: String,
    },
    /// Attest a blob: an in-toto statement about it in a DSSE envelope,
    /// signed and logged like sign-blob.
    AttestBlob {
        #[command(flatten)]
        signing: crate::blob::SigningFlags,
        /// The predicate file (wrapped in a statement per --type).
        #[arg(long = "predicate", env = "COSIGN_PREDICATE")]
        predicate: Option<String>,
        /// A complete in-toto statement, signed as is.
        #[arg(long = "statement", env = "COSIGN_STATEMENT")]
        statement: Option<String>,
        /// Predicate type: custom, slsaprovenance, slsaprovenance02, slsaprovenance1,
        /// spdx, spdxjson, cyclonedx, link, vuln, openvex, or a URI.
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "custom")]
        predicate_type: String,
        /// The blob's SHA-256 (hex), instead of reading the blob.
        #[arg(long = "hash", env = "COSIGN_HASH")]
        hash: Option<String>,
        blob: String,
    },
    /// Sign container images (by digest; a tag is resolved first): a Sigstore
    /// bundle pushed as an OCI 1.1 referrer (with the tag-schema fallback index),
    /// or with --new-bundle-format=false the legacy `.sig` tag.
    Sign {
        #[command(flatten)]
        signing: crate::blob::SigningFlags,
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        #[command(flatten)]
        target: crate::image::TargetFlags,
        /// Extra key=value pairs signed with the image (statement subject annotations).
        #[arg(short = 'a', long = "annotations")]
        annotations: Vec<String>,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Attest container images: an in-toto statement about the image, in a
    /// Sigstore bundle pushed as a referrer.
    Attest {
        #[command(flatten)]
        signing: crate::blob::SigningFlags,
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        #[command(flatten)]
        target: crate::image::TargetFlags,
        #[arg(long = "predicate", env = "COSIGN_PREDICATE")]
        predicate: String,
        /// custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx,
        /// spdxjson, cyclonedx, link, vuln, openvex, or a URI.
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "custom")]
        predicate_type: String,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Verify container image attestations of one predicate type (default custom).
    VerifyAttestation {
        #[command(flatten)]
        verify: crate::blob::VerifyFlags,
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "custom")]
        predicate_type: String,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Print where an image's legacy attachment lives (deprecated upstream;
    /// `tree` shows everything).
    Triangulate {
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        /// signature, attestation, sbom or digest.
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "signature")]
        kind: String,
        image: String,
    },
    /// Show the signatures, attestations and SBOMs attached to an image
    /// (legacy tags and OCI 1.1 referrers).
    Tree {
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        image: String,
    },
    /// Download the signatures or attestations of an image: the stored
    /// bundles, one JSON per line (else the legacy records).
    Download {
        /// signature or attestation.
        what: String,
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        /// attestation: only this predicate type (shorthand or URI).
        #[arg(long = "predicate-type", env = "COSIGN_PREDICATE_TYPE")]
        predicate_type: Option<String>,
        image: String,
    },
    /// Delete an image's signatures, attestations, SBOMs and/or referrers.
    Clean {
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        /// signature, attestation, sbom, referrer or all.
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "all")]
        kind: String,
        /// Do not ask for confirmation.
        #[arg(short = 'f', long = "force")]
        force: bool,
        image: String,
    },
    /// Store registry credentials in Docker's config.json.
    Login {
        registry: String,
        #[arg(short = 'u', long = "username")]
        username: String,
        #[arg(short = 'p', long = "password")]
        password: Option<String>,
        #[arg(long = "password-stdin")]
        password_stdin: bool,
    },
    /// Verify container image signatures: referrer bundles, else the legacy
    /// `.sig` tag, as Go cosign.
    Verify {
        #[command(flatten)]
        verify: crate::blob::VerifyFlags,
        #[command(flatten)]
        registry: crate::image::RegistryFlags,
        /// Required key=value pairs among the signed annotations.
        #[arg(short = 'a', long = "annotations")]
        annotations: Vec<String>,
        /// json (default) or text.
        #[arg(short = 'o', long = "output", default_value = "json")]
        output: String,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Verify a blob: a Sigstore bundle against a trusted root (offline), or a
    /// bare signature with a key (--signature --insecure-ignore-tlog).
    VerifyBlob {
        #[command(flatten)]
        verify: crate::blob::VerifyFlags,
        /// File with the base64 signature (without a bundle).
        #[arg(long = "signature", env = "COSIGN_SIGNATURE")]
        signature: Option<String>,
        /// A file, `-` for stdin, or (with a bundle) `sha256:<hex>`.
        blob: String,
    },
    /// Verify a blob attestation bundle: the signature checks of verify-blob,
    /// the statement's subject against the blob, and its predicate type.
    VerifyBlobAttestation {
        #[command(flatten)]
        verify: crate::blob::VerifyFlags,
        #[arg(long = "type", env = "COSIGN_TYPE", default_value = "custom")]
        predicate_type: String,
        /// The artifact digest (hex) instead of the blob.
        #[arg(long = "digest", env = "COSIGN_DIGEST")]
        digest: Option<String>,
        #[arg(long = "digestAlg", env = "COSIGN_DIGESTALG", default_value = "sha256")]
        digest_alg: String,
        /// Check that a statement subject is the artifact.
        #[arg(long = "check-claims", env = "COSIGN_CHECK_CLAIMS", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        check_claims: bool,
        blob: Option<String>,
    },
    /// Initialize the TUF cache from a mirror: later commands take the
    /// trusted root and signing config from it.
    Initialize {
        #[arg(long = "mirror", env = "COSIGN_MIRROR", default_value = crate::tuf::DEFAULT_MIRROR)]
        mirror: String,
        /// The initial root.json: a file or a URL.
        #[arg(long = "root", env = "COSIGN_ROOT")]
        root: Option<String>,
        /// sha256:<hex> or sha512:<hex> of the root.json.
        #[arg(long = "root-checksum", env = "COSIGN_ROOT_CHECKSUM")]
        root_checksum: Option<String>,
    },
    /// Create a trusted_root.json from a private stack's keys and chains.
    #[command(name = "trusted-root")]
    TrustedRoot {
        #[command(subcommand)]
        cmd: TrustedRootCmd,
    },
    /// Create a signing_config.v0.2.json naming a private stack's services.
    #[command(name = "signing-config")]
    SigningConfig {
        #[command(subcommand)]
        cmd: SigningConfigCmd,
    },
    /// Print the version.
    Version {
        /// As JSON.
        #[arg(long = "json")]
        json: bool,
    },
    /// Print the environment variables this client reads, and their values
    /// (secrets masked).
    Env {
        #[arg(long = "show-descriptions", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        show_descriptions: bool,
        #[arg(long = "show-sensitive-values", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        show_sensitive_values: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion { shell: clap_complete::Shell },
    /// Print the public key of a private key.
    PublicKey {
        /// Key reference: a file or env://VAR.
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: String,
        #[arg(long = "outfile", env = "COSIGN_OUTFILE")]
        outfile: Option<String>,
    },
}

#[derive(Subcommand)]
enum TrustedRootCmd {
    /// Build the document from PEM files (repeat each flag per instance).
    Create {
        /// url=..,certificate-chain=PEM[,start-time=RFC3339][,end-time=RFC3339]
        #[arg(long = "fulcio")]
        fulcio: Vec<String>,
        /// url=..,public-key=PEM,start-time=RFC3339[,end-time=..][,origin=..] (origin: a tiles log)
        #[arg(long = "rekor")]
        rekor: Vec<String>,
        /// url=..,public-key=PEM,start-time=RFC3339[,end-time=..]
        #[arg(long = "ctfe")]
        ctfe: Vec<String>,
        /// url=..,certificate-chain=PEM[,start-time=..][,end-time=..]
        #[arg(long = "tsa")]
        tsa: Vec<String>,
        /// Write here instead of stdout.
        #[arg(long = "out")]
        out: Option<String>,
    },
}

#[derive(Subcommand)]
enum SigningConfigCmd {
    /// Build the document (repeat each service flag per instance).
    Create {
        /// url=..,api-version=1,start-time=RFC3339,operator=..[,end-time=..]
        #[arg(long = "fulcio")]
        fulcio: Vec<String>,
        /// url=..,api-version=1|2,start-time=..,operator=..[,end-time=..]
        #[arg(long = "rekor")]
        rekor: Vec<String>,
        /// url=..,api-version=1,start-time=..,operator=..[,end-time=..]
        #[arg(long = "oidc-provider")]
        oidc_provider: Vec<String>,
        /// url=..,api-version=1,start-time=..,operator=..[,end-time=..]
        #[arg(long = "tsa")]
        tsa: Vec<String>,
        /// ANY, ALL or EXACT:<n>
        #[arg(long = "rekor-config", default_value = "ANY")]
        rekor_config: String,
        /// ANY, ALL or EXACT:<n>
        #[arg(long = "tsa-config", default_value = "ANY")]
        tsa_config: String,
        #[arg(long = "out")]
        out: Option<String>,
    },
}

/// A document to `--out` (0644) or stdout.
fn emit(bytes: &[u8], out: Option<String>) -> Result<()> {
    match out {
        Some(p) => {
            write_file(Path::new(&p), bytes, 0o644)?;
            eprintln!("Wrote {p}");
        }
        None => std::io::stdout().write_all(bytes)?,
    }
    Ok(())
}

pub fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            match e.downcast_ref::<crate::image::LegacyVerifyError>() {
                Some(l) => ExitCode::from(l.exit_code()),
                None => ExitCode::FAILURE,
            }
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

/// A signing key reference: a `pkcs11:` URI (the key stays in the token), or
/// a cosign key file / `env://` as [`load_private_key`].
pub fn load_signing_key(r: &str) -> Result<crate::keys::SigningKey> {
    if r.starts_with("pkcs11:") {
        return Ok(crate::keys::open_pkcs11(r)?);
    }
    Ok(crate::keys::SigningKey::Local(Box::new(load_private_key(
        r,
    )?)))
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

/// The variables this client reads (besides `COSIGN_<FLAG>` for each flag):
/// name, description, what it expects, whether the value is a secret.
const ENV_VARS: &[(&str, &str, &str, bool)] = &[
    (
        "COSIGN_PASSWORD",
        "password for the private key",
        "string",
        true,
    ),
    (
        "SIGSTORE_ID_TOKEN",
        "OIDC identity token for keyless signing",
        "a JWT",
        true,
    ),
    (
        "TUF_ROOT",
        "TUF cache directory (default ~/.sigstore/root)",
        "a directory path",
        false,
    ),
    (
        "TUF_MIRROR",
        "TUF mirror, overriding the one `initialize` recorded",
        "a URL",
        false,
    ),
    (
        "TUF_ROOT_JSON",
        "initial root.json for TUF_MIRROR",
        "a file path",
        false,
    ),
];

/// `cosign env`: `# NAME description`, `# Expects: ...`, `NAME=value`.
fn env_report(descriptions: bool, sensitive: bool) -> String {
    let mut out = String::new();
    for (name, desc, expects, secret) in ENV_VARS {
        if descriptions {
            out.push_str(&format!("# {name} {desc}\n# Expects: {expects}\n"));
        }
        let value = std::env::var(name).unwrap_or_default();
        let shown = if *secret && !sensitive && !value.is_empty() {
            "******".to_string()
        } else {
            value
        };
        out.push_str(&format!("{name}={shown}\n"));
    }
    out
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
            signing,
            output_signature,
            output_certificate,
            blob,
        } => crate::blob::sign(&signing, output_signature, output_certificate, &blob),
        Cmd::AttestBlob {
            signing,
            predicate,
            statement,
            predicate_type,
            hash,
            blob,
        } => crate::blob::attest(
            &signing,
            crate::blob::StatementSource {
                predicate,
                statement,
                predicate_type,
                hash,
            },
            &blob,
        ),
        Cmd::Sign {
            signing,
            registry,
            target,
            annotations,
            images,
        } => crate::image::sign(&signing, &registry, &target, &annotations, &images),
        Cmd::Triangulate {
            registry,
            kind,
            image,
        } => crate::attachments::triangulate(&registry, &kind, &image),
        Cmd::Tree { registry, image } => crate::attachments::tree(&registry, &image),
        Cmd::Clean {
            registry,
            kind,
            force,
            image,
        } => crate::attachments::clean(&registry, &kind, force, &image),
        Cmd::Login {
            registry,
            username,
            password,
            password_stdin,
        } => crate::attachments::login(&registry, &username, password.as_deref(), password_stdin),
        Cmd::Download {
            what,
            registry,
            predicate_type,
            image,
        } => crate::attachments::download(&registry, &what, predicate_type.as_deref(), &image),
        Cmd::Attest {
            signing,
            registry,
            target,
            predicate,
            predicate_type,
            images,
        } => crate::image::attest(
            &signing,
            &registry,
            &target,
            &predicate,
            &predicate_type,
            &images,
        ),
        Cmd::VerifyAttestation {
            verify,
            registry,
            predicate_type,
            images,
        } => crate::image::verify_attestation(&verify, &registry, &predicate_type, &images),
        Cmd::Verify {
            verify,
            registry,
            annotations,
            output,
            images,
        } => crate::image::verify(&verify, &registry, &annotations, &output, &images),
        Cmd::VerifyBlob {
            verify,
            signature,
            blob,
        } => match (&verify.bundle, &verify.certificate) {
            (Some(_), _) => crate::blob::verify_blob(&verify, &blob),
            (None, Some(_)) => {
                crate::blob::verify_blob_detached(&verify, signature.as_deref(), &blob)
            }
            (None, None) => verify_bare_signature(
                verify.key.clone(),
                signature,
                verify.insecure_ignore_tlog,
                &blob,
            ),
        },
        Cmd::VerifyBlobAttestation {
            verify,
            predicate_type,
            digest,
            digest_alg,
            check_claims,
            blob,
        } => crate::blob::verify_attestation(
            &verify,
            &predicate_type,
            digest.map(|d| (digest_alg, d)),
            check_claims,
            blob.as_deref(),
        ),
        Cmd::Initialize {
            mirror,
            root,
            root_checksum,
        } => {
            let dir = crate::tuf::tuf_root()?;
            let trust = crate::tuf::initialize(
                &dir,
                &mirror,
                root.as_deref(),
                root_checksum.as_deref(),
                time::OffsetDateTime::now_utc(),
            )?;
            eprintln!(
                "TUF cache for {} initialized in {} (trusted_root.json{})",
                trust.mirror,
                dir.display(),
                if trust.signing_config.is_some() {
                    ", signing_config.v0.2.json"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Cmd::TrustedRoot {
            cmd:
                TrustedRootCmd::Create {
                    fulcio,
                    rekor,
                    ctfe,
                    tsa,
                    out,
                },
        } => emit(
            &crate::trustcfg::trusted_root(&crate::trustcfg::TrustedRootSpec {
                fulcio,
                rekor,
                ctfe,
                tsa,
            })?,
            out,
        ),
        Cmd::SigningConfig {
            cmd:
                SigningConfigCmd::Create {
                    fulcio,
                    rekor,
                    oidc_provider,
                    tsa,
                    rekor_config,
                    tsa_config,
                    out,
                },
        } => emit(
            &crate::trustcfg::signing_config(&crate::trustcfg::SigningConfigSpec {
                fulcio,
                rekor,
                oidc_provider,
                tsa,
                rekor_config,
                tsa_config,
            })?,
            out,
        ),
        Cmd::Version { json } => {
            let version = env!("CARGO_PKG_VERSION");
            if json {
                println!(
                    "{}",
                    serde_json::json!({"gitVersion": version, "compiler": "rustc", "platform": std::env::consts::ARCH})
                );
            } else {
                println!("cosign (sigstack cosign-cli) {version}");
            }
            Ok(())
        }
        Cmd::Env {
            show_descriptions,
            show_sensitive_values,
        } => {
            print!("{}", env_report(show_descriptions, show_sensitive_values));
            Ok(())
        }
        Cmd::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "cosign", &mut std::io::stdout());
            Ok(())
        }
        Cmd::PublicKey { key, outfile } => {
            let pem = load_signing_key(&key)?.public_key().to_pem();
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
