//! The `timestamp-server` binary: `serve` (flags as upstream's
//! `timestamp-server serve`) and `certificate create` (the TSA chain and key
//! for a private deployment).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_pkcs11::{Pkcs11Config, Pkcs11Signer};

use crate::config::{Config, ServeArgs, SignerKind};
use crate::service::Tsa;
use crate::signer::TsaKey;

#[derive(Parser, Debug)]
#[command(
    name = "timestamp-server",
    about = "RFC 3161 timestamp authority (sigstore/timestamp-authority API)",
    version
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the TSA.
    Serve(ServeArgs),
    /// TSA key and certificate management.
    #[command(subcommand)]
    Certificate(CertificateCommand),
}

#[derive(Subcommand, Debug)]
pub enum CertificateCommand {
    /// Create a P-256 root and the timestamping certificate. Writes
    /// root.crt.pem, root.key.pem (keep offline), tsa.crt.pem, tsa.key.pem
    /// and chain.pem (the `--certificate-chain-path` input) into DIR; keys
    /// are encrypted with TSA_CA_PASSPHRASE and written 0600. With
    /// --pkcs11-config-path, the TSA key is generated in the HSM (labelled
    /// --hsm-key-label) and no tsa.key.pem is written.
    Create {
        #[arg(long = "out-dir")]
        out_dir: PathBuf,
        #[arg(long, default_value = "sigstack")]
        organization: String,
        #[arg(long = "common-name", default_value = "sigstack-tsa")]
        common_name: String,
        #[arg(long = "validity-days", default_value_t = 3650)]
        validity_days: u64,
        /// Passphrase for the keys written to files.
        #[arg(long, env = "TSA_CA_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
        /// Write the keys unencrypted (dev only).
        #[arg(long = "insecure-no-passphrase")]
        insecure_no_passphrase: bool,
        /// Generate the TSA key in this PKCS#11 token (crypto11 JSON config).
        #[arg(long = "pkcs11-config-path")]
        pkcs11_config_path: Option<PathBuf>,
        #[arg(long = "hsm-key-label", default_value = "tsa")]
        hsm_key_label: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Certificate(CertificateCommand::Create {
            out_dir,
            organization,
            common_name,
            validity_days,
            passphrase,
            insecure_no_passphrase,
            pkcs11_config_path,
            hsm_key_label,
        }) => {
            let pass = sigstack_http::key_file_passphrase(
                passphrase,
                insecure_no_passphrase,
                "TSA_CA_PASSPHRASE",
            )
            .map_err(anyhow::Error::msg)?;
            create_files(
                &out_dir,
                &organization,
                &common_name,
                Duration::from_secs(validity_days * 86400),
                pass.as_deref(),
                pkcs11_config_path
                    .as_deref()
                    .map(|p| (p, hsm_key_label.as_str())),
            )
        }
    }
}

/// Opens the service from resolved settings (shared by the binary and tests).
pub fn open(cfg: &Config) -> anyhow::Result<Tsa> {
    let read_chain = || -> anyhow::Result<Vec<Vec<u8>>> {
        let Some(p) = &cfg.chain_path else {
            bail!("certificate-chain-path is required")
        };
        let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        sigstack_core::pem::parse_certificates(&text)
            .with_context(|| format!("{}: not a PEM certificate chain", p.display()))
    };
    let tsa = match cfg.signer {
        SignerKind::Memory => {
            tracing::warn!("memory signer: a new TSA key and chain at every start; use the file or pkcs11 signer for anything that must verify later");
            let t = Tsa::ephemeral()?;
            Tsa::new(t.chain_der().to_vec(), t.into_key(), cfg.policy.clone())?
        }
        SignerKind::File => {
            let Some(kp) = &cfg.key_path else {
                bail!("file-signer-key-path is required")
            };
            let pass = std::env::var("TSA_FILE_SIGNER_PASSWD").ok();
            let text = std::fs::read(kp).with_context(|| format!("reading {}", kp.display()))?;
            let key = SigningKey::from_pem(&text, pass.as_deref().map(str::as_bytes))
                .with_context(|| format!("{}", kp.display()))?;
            Tsa::new(read_chain()?, TsaKey::Memory(key), cfg.policy.clone())
                .with_context(|| format!("TSA key {} and chain", kp.display()))?
        }
        SignerKind::Pkcs11 => {
            let Some(cp) = &cfg.pkcs11_config_path else {
                bail!("pkcs11-config-path is required")
            };
            let config = Pkcs11Config::from_file(cp)?;
            let signer = Pkcs11Signer::open(&config, &cfg.hsm_key_label)?;
            tracing::info!(module = %config.module.display(), token = %config.token, key_label = %cfg.hsm_key_label, "PKCS#11 TSA key opened");
            Tsa::new(read_chain()?, TsaKey::Pkcs11(signer), cfg.policy.clone())
                .with_context(|| format!("HSM key {:?} and chain", cfg.hsm_key_label))?
        }
    };
    Ok(tsa)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = Config::resolve(&args)?;
    let tls = args.tls.load()?;
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    sigstack_http::tls::check_plain_http(
        listener.local_addr()?,
        tls.is_some(),
        args.tls.insecure_http,
    )?;
    let tsa = Arc::new(open(&cfg)?);
    tracing::info!(listen = %addr, signer = ?cfg.signer, policy = %cfg.policy.default, "timestamp-server ready");
    sigstack_http::tls::serve(
        listener,
        crate::api::router_with_limit(tsa, cfg.max_request_bytes),
        tls,
        sigstack_http::shutdown_signal(),
    )
    .await?;
    Ok(())
}

fn write_file(path: &Path, contents: &str, private: bool) -> anyhow::Result<()> {
    let r = if private {
        sigstack_http::write_private_file(path, contents.as_bytes())
    } else {
        sigstack_http::write_atomic(path, contents.as_bytes(), false)
    };
    r.with_context(|| format!("creating {} (refusing to overwrite)", path.display()))
}

/// `certificate create`. Every output name is checked free before any key
/// is made (in a file or in an HSM), so a refused run leaves nothing behind.
pub fn create_files(
    dir: &Path,
    org: &str,
    cn: &str,
    validity: Duration,
    passphrase: Option<&str>,
    hsm: Option<(&Path, &str)>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for n in [
        "root.key.pem",
        "root.crt.pem",
        "tsa.key.pem",
        "tsa.crt.pem",
        "chain.pem",
    ] {
        if dir.join(n).exists() {
            bail!("{} exists (refusing to overwrite)", dir.join(n).display());
        }
    }
    let pass = passphrase.map(str::as_bytes);
    let (leaf_public, leaf_key) = match hsm {
        Some((config, label)) => {
            let config = Pkcs11Config::from_file(config)?;
            let spki = sigstack_pkcs11::generate_key(&config, label)?;
            (PublicKey::from_spki_der(&spki)?, None)
        }
        None => {
            let k = SigningKey::generate_p256();
            (k.public_key(), Some(k))
        }
    };
    let created = crate::certs::create_chain(org, cn, validity, &leaf_public)?;
    let pem = |d: &[u8]| sigstack_core::pem::encode("CERTIFICATE", d);
    let (leaf_pem, root_pem) = (pem(&created.chain_der[0]), pem(&created.chain_der[1]));
    write_file(
        &dir.join("root.key.pem"),
        &created.root_key.to_pkcs8_pem(pass)?,
        true,
    )?;
    if let Some(k) = leaf_key {
        write_file(&dir.join("tsa.key.pem"), &k.to_pkcs8_pem(pass)?, true)?;
    }
    write_file(&dir.join("root.crt.pem"), &root_pem, false)?;
    write_file(&dir.join("tsa.crt.pem"), &leaf_pem, false)?;
    write_file(
        &dir.join("chain.pem"),
        &format!("{leaf_pem}{root_pem}"),
        false,
    )?;
    match hsm {
        Some((config, label)) => println!(
            "serve with: timestamp-server serve --timestamp-signer pkcs11 --pkcs11-config-path {} --hsm-key-label {label} --certificate-chain-path {}",
            config.display(),
            dir.join("chain.pem").display()
        ),
        None => println!(
            "serve with: timestamp-server serve --timestamp-signer file --file-signer-key-path {} --certificate-chain-path {}",
            dir.join("tsa.key.pem").display(),
            dir.join("chain.pem").display()
        ),
    }
    println!(
        "keep {} offline: it is only needed to certify a new TSA key",
        dir.join("root.key.pem").display()
    );
    Ok(())
}
