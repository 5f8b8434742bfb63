//! The `fulcio` binary: `serve` (flag names as upstream's `fulcio serve`,
//! environment variables `FULCIO_SERVE_*`) and `ca create` (root and
//! intermediate for a private deployment).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use sigstack_core::keys::{PublicKey, SigningKey};

use crate::ca::{self, Ca};
use crate::config::FulcioConfig;
use crate::metrics::Metrics;
use crate::service::{CtLog, Fulcio};

#[derive(Parser, Debug)]
#[command(
    name = "fulcio",
    about = "Fulcio-compatible keyless code-signing CA",
    version
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the CA server.
    Serve(ServeArgs),
    /// CA key and certificate management.
    #[command(subcommand)]
    Ca(CaCommand),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CaBackend {
    /// In-memory root + intermediate, new at every start (tests and dev only).
    Ephemeralca,
    /// PEM chain and PEM private key (optionally encrypted).
    Fileca,
    /// PEM chain (`--fileca-cert`) and a signing key held in an HSM through
    /// PKCS#11 (`--pkcs11-config-path`, `--hsm-key-label`).
    Pkcs11ca,
}

#[derive(Parser, Debug, Clone)]
pub struct ServeArgs {
    /// HTTP listen host.
    #[arg(
        long = "host",
        alias = "http-host",
        env = "FULCIO_SERVE_HOST",
        default_value = "127.0.0.1"
    )]
    pub host: String,
    /// HTTP listen port.
    #[arg(
        long = "port",
        alias = "http-port",
        env = "FULCIO_SERVE_PORT",
        default_value_t = 5555
    )]
    pub port: u16,
    /// Issuer configuration (upstream format, JSON or YAML). Without it, upstream's
    /// built-in public issuers are used (useless in an air-gapped network).
    #[arg(long = "config-path", env = "FULCIO_SERVE_CONFIG_PATH")]
    pub config_path: Option<PathBuf>,
    /// CA backend.
    #[arg(
        long = "ca",
        env = "FULCIO_SERVE_CA",
        value_enum,
        default_value = "ephemeralca"
    )]
    pub ca: CaBackend,
    /// PEM certificate chain: signing CA first, root last (fileca and pkcs11ca).
    #[arg(long = "fileca-cert", env = "FULCIO_SERVE_FILECA_CERT")]
    pub fileca_cert: Option<PathBuf>,
    /// PEM private key of the signing CA (PKCS#8, encrypted PKCS#8, or SEC1).
    #[arg(long = "fileca-key", env = "FULCIO_SERVE_FILECA_KEY")]
    pub fileca_key: Option<PathBuf>,
    /// Passphrase of an encrypted CA key (prefer the environment variable).
    #[arg(
        long = "fileca-key-passwd",
        env = "FULCIO_SERVE_FILECA_KEY_PASSWD",
        hide_env_values = true
    )]
    pub fileca_key_passwd: Option<String>,
    /// PKCS#11 configuration (upstream's crypto11 JSON:
    /// {"Path":"/usr/lib/softhsm/libsofthsm2.so","TokenLabel":"fulcio","Pin":"2324"}).
    #[arg(
        long = "pkcs11-config-path",
        env = "FULCIO_SERVE_PKCS11_CONFIG_PATH",
        default_value = "config/crypto11.conf"
    )]
    pub pkcs11_config_path: PathBuf,
    /// CKA_LABEL of the signing CA key pair in the HSM (pkcs11ca).
    #[arg(
        long = "hsm-key-label",
        env = "FULCIO_SERVE_HSM_KEY_LABEL",
        default_value = crate::pkcs11::DEFAULT_KEY_LABEL
    )]
    pub hsm_key_label: String,
    /// Base URL of the CT log. Certificates are only issued with an SCT from it.
    #[arg(
        long = "ct-log-url",
        env = "FULCIO_SERVE_CT_LOG_URL",
        default_value = "http://127.0.0.1:6962"
    )]
    pub ct_log_url: String,
    /// PEM public key of the CT log; when set, every SCT is verified before use.
    #[arg(
        long = "ct-log-public-key-path",
        env = "FULCIO_SERVE_CT_LOG_PUBLIC_KEY_PATH"
    )]
    pub ct_log_public_key_path: Option<PathBuf>,
    #[command(flatten)]
    pub tls: sigstack_http::tls::TlsArgs,
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Create a P-256 root and intermediate. Writes root.crt.pem, root.key.pem,
    /// intermediate.crt.pem, intermediate.key.pem and chain.pem (the `--fileca-cert`
    /// input) into DIR; keys are encrypted with FULCIO_CA_PASSPHRASE and written 0600.
    /// With --pkcs11-config-path, the intermediate key is generated in the HSM
    /// (labelled --hsm-key-label) and no intermediate.key.pem is written.
    Create {
        #[arg(long = "out-dir")]
        out_dir: PathBuf,
        #[arg(long, default_value = "sigstack")]
        organization: String,
        #[arg(long = "common-name", default_value = "sigstack-fulcio")]
        common_name: String,
        #[arg(long = "validity-days", default_value_t = 3650)]
        validity_days: u64,
        /// Passphrase for both keys.
        #[arg(long, env = "FULCIO_CA_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
        /// Write the keys unencrypted (dev only).
        #[arg(long = "insecure-no-passphrase")]
        insecure_no_passphrase: bool,
        /// Generate the intermediate key in this PKCS#11 token (crypto11 JSON config).
        #[arg(long = "pkcs11-config-path")]
        pkcs11_config_path: Option<PathBuf>,
        /// CKA_LABEL of the intermediate key pair to generate in the HSM.
        #[arg(long = "hsm-key-label", default_value = crate::pkcs11::DEFAULT_KEY_LABEL)]
        hsm_key_label: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Ca(CaCommand::Create {
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
                "FULCIO_CA_PASSPHRASE",
            )
            .map_err(anyhow::Error::msg)?;
            match pkcs11_config_path {
                Some(config) => create_ca_files_hsm(
                    &out_dir,
                    &organization,
                    &common_name,
                    validity_days,
                    pass.as_deref(),
                    &config,
                    &hsm_key_label,
                ),
                None => create_ca_files(
                    &out_dir,
                    &organization,
                    &common_name,
                    validity_days,
                    pass.as_deref(),
                ),
            }
        }
    }
}

/// Opens the service from flags (shared by the binary and the tests).
pub fn open(args: &ServeArgs) -> anyhow::Result<Fulcio> {
    let config = match &args.config_path {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            FulcioConfig::parse(&bytes).with_context(|| format!("loading {}", p.display()))?
        }
        None => {
            tracing::warn!("no --config-path: using upstream's default public OIDC issuers");
            FulcioConfig::upstream_default()
        }
    };
    let ca = match args.ca {
        CaBackend::Ephemeralca => {
            tracing::warn!("ephemeral CA: a new root at every start; use --ca fileca for anything that must verify later");
            Ca::ephemeral()?
        }
        CaBackend::Fileca => {
            let (Some(cert), Some(key)) = (&args.fileca_cert, &args.fileca_key) else {
                bail!("--ca fileca needs --fileca-cert and --fileca-key");
            };
            Ca::from_files(
                cert,
                key,
                args.fileca_key_passwd.as_deref().map(str::as_bytes),
            )?
        }
        CaBackend::Pkcs11ca => {
            let Some(cert) = &args.fileca_cert else {
                bail!("--ca pkcs11ca needs --fileca-cert (PEM chain: signing CA first, root last)");
            };
            let config = crate::pkcs11::Pkcs11Config::from_file(&args.pkcs11_config_path)?;
            let ca = Ca::from_pkcs11(cert, &config, &args.hsm_key_label)?;
            tracing::info!(
                module = %config.module.display(),
                token = %config.token,
                key_label = %args.hsm_key_label,
                "PKCS#11 CA key opened"
            );
            ca
        }
    };
    let ct_key = match &args.ct_log_public_key_path {
        Some(p) => Some(
            PublicKey::from_pem(
                &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("{}: not a PEM public key", p.display()))?,
        ),
        None => None,
    };
    if args.ct_log_url.is_empty() {
        bail!("--ct-log-url is required: this Fulcio never issues a certificate without an SCT");
    }
    let ct = CtLog::new(&args.ct_log_url, ct_key).map_err(anyhow::Error::msg)?;
    let verifier = sigstack_oidc::Verifier::new(sigstack_oidc::VerifierOptions::default())?;
    for iss in config.issuers.values().map(|i| (&i.issuer_url, &i.ca_cert)) {
        if !iss.1.is_empty() {
            verifier
                .set_issuer_ca_bundle(iss.0, iss.1.as_bytes())
                .with_context(|| format!("CACert of issuer {}", iss.0))?;
        }
    }
    Ok(Fulcio {
        config,
        verifier,
        ca,
        ct,
        metrics: Arc::new(Metrics::default()),
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let fulcio = Arc::new(open(&args)?);
    let tls = args.tls.load()?;
    let addr = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    sigstack_http::tls::check_plain_http(
        listener.local_addr()?,
        tls.is_some(),
        args.tls.insecure_http,
    )?;
    tracing::info!(listen = %addr, ct_log = %args.ct_log_url, issuers = fulcio.config.issuers.len(), "fulcio ready");
    crate::serve(listener, fulcio, tls, sigstack_http::shutdown_signal()).await?;
    Ok(())
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {} (refusing to overwrite)", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Creates `dir` and refuses to go on if any file `ca create` writes is
/// already there, before any key is made (in a file or in an HSM), so a
/// refused run leaves nothing behind.
fn prepare_ca_dir(dir: &Path, with_intermediate_key: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let names = [
        "root.key.pem",
        "intermediate.key.pem",
        "root.crt.pem",
        "intermediate.crt.pem",
        "chain.pem",
    ];
    for n in names {
        if (with_intermediate_key || n != "intermediate.key.pem") && dir.join(n).exists() {
            bail!("{} exists (refusing to overwrite)", dir.join(n).display());
        }
    }
    Ok(())
}

/// Writes the CA files (keys 0600, encrypted when a passphrase is given;
/// certificates 0644) and prints the certificates' fingerprints.
/// `intermediate_key` is `None` when the key lives in an HSM.
fn write_ca_files(
    dir: &Path,
    root: (&[u8], &SigningKey),
    intermediate: (&[u8], Option<&SigningKey>),
    passphrase: Option<&str>,
) -> anyhow::Result<()> {
    use sha2::Digest;
    let pass = passphrase.map(str::as_bytes);
    let root_pem = crate::cert::to_pem(root.0);
    let int_pem = crate::cert::to_pem(intermediate.0);
    write_file(
        &dir.join("root.key.pem"),
        &root.1.to_pkcs8_pem(pass)?,
        0o600,
    )?;
    if let Some(key) = intermediate.1 {
        write_file(
            &dir.join("intermediate.key.pem"),
            &key.to_pkcs8_pem(pass)?,
            0o600,
        )?;
    }
    write_file(&dir.join("root.crt.pem"), &root_pem, 0o644)?;
    write_file(&dir.join("intermediate.crt.pem"), &int_pem, 0o644)?;
    write_file(
        &dir.join("chain.pem"),
        &format!("{int_pem}{root_pem}"),
        0o644,
    )?;
    println!(
        "root         SHA-256 {}",
        hex::encode(sha2::Sha256::digest(root.0))
    );
    println!(
        "intermediate SHA-256 {}",
        hex::encode(sha2::Sha256::digest(intermediate.0))
    );
    Ok(())
}

pub fn create_ca_files(
    dir: &Path,
    org: &str,
    cn: &str,
    validity_days: u64,
    passphrase: Option<&str>,
) -> anyhow::Result<()> {
    prepare_ca_dir(dir, true)?;
    let created = ca::create_ca(org, cn, Duration::from_secs(validity_days * 86400))?;
    write_ca_files(
        dir,
        (&created.root_der, &created.root_key),
        (&created.intermediate_der, Some(&created.intermediate_key)),
        passphrase,
    )?;
    println!(
        "serve with: fulcio serve --ca fileca --fileca-cert {} --fileca-key {}",
        dir.join("chain.pem").display(),
        dir.join("intermediate.key.pem").display()
    );
    println!(
        "keep {} offline: it is only needed to issue a new intermediate",
        dir.join("root.key.pem").display()
    );
    Ok(())
}

/// `fulcio ca create --pkcs11-config-path FILE --hsm-key-label LABEL`: the
/// intermediate key is generated in the HSM (non-extractable), the root key is
/// written encrypted to `root.key.pem` for offline storage. Writes
/// root.key.pem, root.crt.pem, intermediate.crt.pem and chain.pem.
pub fn create_ca_files_hsm(
    dir: &Path,
    org: &str,
    cn: &str,
    validity_days: u64,
    passphrase: Option<&str>,
    pkcs11_config: &Path,
    key_label: &str,
) -> anyhow::Result<()> {
    use crate::cert::TbsSigner;
    use crate::pkcs11::{generate_key, Pkcs11Config, Pkcs11Signer};
    // Before touching the HSM, so that a refused run leaves no orphan key.
    prepare_ca_dir(dir, false)?;
    let config = Pkcs11Config::from_file(pkcs11_config)?;
    let spki = generate_key(&config, key_label)?;
    let signer = Pkcs11Signer::open(&config, key_label)?;
    if signer.public_key_der() != spki {
        bail!(
            "the HSM returned a different public key for {key_label:?} than the one it generated"
        );
    }
    let created =
        ca::create_ca_for_signer(org, cn, Duration::from_secs(validity_days * 86400), &signer)?;
    // Same checks as `fulcio serve` will make.
    Ca::new(
        vec![created.intermediate_der.clone(), created.root_der.clone()],
        Arc::new(signer),
    )?;
    write_ca_files(
        dir,
        (&created.root_der, &created.root_key),
        (&created.intermediate_der, None),
        passphrase,
    )?;
    println!("intermediate key {key_label:?} in token {}", config.token);
    println!(
        "serve with: fulcio serve --ca pkcs11ca --pkcs11-config-path {} --hsm-key-label {key_label} --fileca-cert {}",
        pkcs11_config.display(),
        dir.join("chain.pem").display()
    );
    println!(
        "keep {} offline: it is only needed to issue a new intermediate",
        dir.join("root.key.pem").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn ca_create_writes_every_file_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        super::create_ca_files(&dir, "org", "cn", 1, None).unwrap();
        let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
        for (n, m) in [
            ("root.key.pem", 0o600),
            ("intermediate.key.pem", 0o600),
            ("root.crt.pem", 0o644),
            ("intermediate.crt.pem", 0o644),
            ("chain.pem", 0o644),
        ] {
            assert_eq!(mode(n), m, "{n}");
        }
        // A second run refuses before making keys: nothing changes.
        let root_key = std::fs::read(dir.join("root.key.pem")).unwrap();
        std::fs::remove_file(dir.join("chain.pem")).unwrap();
        let err = super::create_ca_files(&dir, "org", "cn", 1, None).unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read(dir.join("root.key.pem")).unwrap(), root_key);
        assert!(!dir.join("chain.pem").exists());
    }
}
