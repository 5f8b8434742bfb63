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
    /// Sign a blob with a key. Without a transparency log only for now
    /// (`--tlog-upload=false`); the keyless and tlog paths are still to come.
    SignBlob {
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: String,
        /// Write the base64 signature here instead of stdout.
        #[arg(long = "output-signature", env = "COSIGN_OUTPUT_SIGNATURE")]
        output_signature: Option<String>,
        #[arg(long = "tlog-upload", env = "COSIGN_TLOG_UPLOAD", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        tlog_upload: bool,
        #[arg(long = "use-signing-config", env = "COSIGN_USE_SIGNING_CONFIG", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        use_signing_config: bool,
        #[arg(short = 'y', long = "yes")]
        yes: bool,
        blob: String,
    },
    /// Verify a blob's signature with a public key (no transparency log yet:
    /// `--insecure-ignore-tlog`).
    VerifyBlob {
        #[arg(long = "key", env = "COSIGN_KEY")]
        key: String,
        /// File with the base64 signature.
        #[arg(long = "signature", env = "COSIGN_SIGNATURE")]
        signature: String,
        #[arg(long = "insecure-ignore-tlog", env = "COSIGN_INSECURE_IGNORE_TLOG", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        insecure_ignore_tlog: bool,
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
fn read_blob(path: &str) -> Result<Vec<u8>> {
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

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
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
            output_signature,
            tlog_upload,
            use_signing_config: _,
            yes: _,
            blob,
        } => {
            if tlog_upload {
                bail!("uploading to a transparency log is not supported by this client yet; use --tlog-upload=false (a signature without a log entry)");
            }
            let data = read_blob(&blob)?;
            eprintln!("Using payload from: {blob}");
            let sig = STANDARD.encode(load_private_key(&key)?.sign(&data)?);
            match output_signature {
                Some(p) => {
                    write_file(Path::new(&p), sig.as_bytes(), 0o644)?;
                    eprintln!("Wrote signature to file {p}");
                }
                None => println!("{sig}"),
            }
            Ok(())
        }
        Cmd::VerifyBlob {
            key,
            signature,
            insecure_ignore_tlog,
            blob,
        } => {
            if !insecure_ignore_tlog {
                bail!("verifying a transparency log entry is not supported by this client yet; use --insecure-ignore-tlog=true");
            }
            eprintln!("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the blob.");
            let public = sigstack_core::keys::PublicKey::from_pem(&read_key_ref(&key)?)
                .map_err(|e| anyhow!("loading public key {key}: {e}"))?;
            let text = std::fs::read_to_string(&signature)
                .with_context(|| format!("reading signature {signature}"))?;
            let sig = STANDARD
                .decode(text.trim())
                .map_err(|_| anyhow!("signature {signature} is not base64"))?;
            let data = read_blob(&blob)?;
            public.verify_message(&data, &sig).map_err(|_| {
                anyhow!("invalid signature when validating ASN.1 encoded signature")
            })?;
            eprintln!("Verified OK");
            Ok(())
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
