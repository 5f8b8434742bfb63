//! The `tuf-root` command line (thin: parses flags, calls the library).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use sigstack_core::keys::PublicKey;
use sigstack_core::trust::{
    ClientTrustConfig, SigningConfig, TrustedRoot, CLIENT_TRUST_CONFIG_MEDIA_TYPE_V0_1,
};
use sigstack_core::tuf::{self, Role};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::keys::{self, KeyRef};
use crate::repo::{self, Expiry, InitOptions, RootStatus, RotateOptions, Workspace};
use crate::trust::{self, ChainInput, LogInput, TrustInput};

#[derive(Parser)]
#[command(
    name = "tuf-root",
    version,
    about = "TUF repository publisher for a private Sigstore trust root"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a signing key: a PKCS#8 PEM file (encrypted with
    /// $SIGSTACK_TUF_PASSPHRASE or a passphrase typed at the terminal, 0600),
    /// or a non-extractable P-256 key on a PKCS#11 token. Prints its key ID.
    Keygen {
        /// File path or pkcs11: URI (token, object=label, module-path).
        #[arg(long)]
        out: String,
        /// Ed25519 instead of ECDSA P-256 (files only).
        #[arg(long)]
        ed25519: bool,
        /// Write the private key unencrypted (development only).
        #[arg(long)]
        unencrypted: bool,
    },
    /// The key ceremony: root v1 (threshold of the root keys), targets,
    /// snapshot and timestamp keys; publishes the initial repository when
    /// enough root keys signed, otherwise stages root v1 for `sign-root`.
    Init(InitArgs),
    /// Add or replace a target file (signed with the targets key).
    AddTarget {
        #[command(flatten)]
        ws: WsArg,
        name: String,
        file: PathBuf,
        /// JSON object for the target's `custom` field.
        #[arg(long)]
        custom: Option<String>,
        #[arg(long = "targets-key")]
        targets_key: Vec<String>,
    },
    /// Remove a target from targets metadata.
    RemoveTarget {
        #[command(flatten)]
        ws: WsArg,
        name: String,
        #[arg(long = "targets-key")]
        targets_key: Vec<String>,
    },
    /// Build trusted_root.json and signing_config.v0.2.json from the
    /// services' public material and publish both as targets. Material for
    /// a URL that changed keys retires the old entry (validFor.end) and
    /// keeps it, so old signatures still verify.
    SetTrust(TrustArgs),
    /// Rotate one service key or chain: the old entry stays trusted for
    /// what it signed until --old-end (default: now).
    RotateKey(RotateKeyArgs),
    /// Re-sign timestamp (and snapshot) before they expire; for cron.
    Refresh {
        #[command(flatten)]
        ws: WsArg,
        /// Sign a new timestamp even if it is not due.
        #[arg(long)]
        force: bool,
    },
    /// Root N+1 with new keys and/or threshold, signed by the old and new
    /// root keys; staged until both thresholds are met.
    RotateRoot(RotateRootArgs),
    /// Add signatures to the staged root; publishes it when complete.
    SignRoot {
        #[command(flatten)]
        ws: WsArg,
        #[arg(long = "key", required = true)]
        key: Vec<String>,
    },
    /// Check a repository as a client would and report what expires when.
    Verify(VerifyArgs),
    /// Serve a repository over HTTP (consistent snapshots, 404 for missing files).
    Serve {
        #[arg(long, conflicts_with = "repository")]
        dir: Option<PathBuf>,
        /// A repository directory (for example an imported bundle's).
        #[arg(long)]
        repository: Option<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:8082", env = "TUF_ROOT_LISTEN")]
        listen: String,
        #[command(flatten)]
        tls: sigstack_http::tls::TlsArgs,
    },
    /// Write the air-gap transfer bundle (tar: root.json, repository/, SHA256SUMS).
    Export {
        #[command(flatten)]
        ws: WsArg,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a transfer bundle and unpack it (DIR/root.json, DIR/repository).
    Import {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct WsArg {
    /// The workspace directory.
    #[arg(long, env = "TUF_ROOT_DIR")]
    dir: PathBuf,
}

#[derive(Args)]
struct InitArgs {
    #[command(flatten)]
    ws: WsArg,
    /// A root key (repeat): private key file, public key file (signs later
    /// with sign-root), or pkcs11: URI.
    #[arg(long = "root-key")]
    root_key: Vec<String>,
    /// Signatures needed on root (default: a majority of the root keys).
    #[arg(long)]
    root_threshold: Option<u64>,
    #[arg(long = "targets-key")]
    targets_key: Vec<String>,
    #[arg(long = "snapshot-key")]
    snapshot_key: Vec<String>,
    #[arg(long = "timestamp-key")]
    timestamp_key: Vec<String>,
    /// Development: create unencrypted P-256 keys for any role given no key
    /// (one per role) under DIR/keys/.
    #[arg(long)]
    generate: bool,
    #[arg(long, default_value_t = Expiry::default().root)]
    root_expires_days: u32,
    #[arg(long, default_value_t = Expiry::default().targets)]
    targets_expires_days: u32,
    #[arg(long, default_value_t = Expiry::default().snapshot)]
    snapshot_expires_days: u32,
    #[arg(long, default_value_t = Expiry::default().timestamp)]
    timestamp_expires_days: u32,
}

#[derive(Args)]
struct TrustArgs {
    #[command(flatten)]
    ws: WsArg,
    /// Fulcio base URL (chain fetched from /api/v2/trustBundle unless --fulcio-chain).
    #[arg(long)]
    fulcio_url: Option<String>,
    /// PEM chain of the Fulcio CA (intermediates first, root last).
    #[arg(long)]
    fulcio_chain: Option<PathBuf>,
    /// Rekor base URL (key fetched from /api/v1/log/publicKey unless --rekor-public-key).
    #[arg(long)]
    rekor_url: Option<String>,
    #[arg(long)]
    rekor_public_key: Option<PathBuf>,
    /// Rekor v2 (tiles) log URL and its PEM checkpoint public key
    /// (Ed25519 or ECDSA); the checkpoint origin is the URL's host.
    #[arg(long, requires = "rekor_v2_public_key")]
    rekor_v2_url: Option<String>,
    #[arg(long, requires = "rekor_v2_url")]
    rekor_v2_public_key: Option<PathBuf>,
    /// CT log base URL (as Fulcio submits to it) and its PEM public key.
    #[arg(long, requires = "ctlog_public_key")]
    ctlog_url: Option<String>,
    #[arg(long, requires = "ctlog_url")]
    ctlog_public_key: Option<PathBuf>,
    /// Full RFC 3161 URL of the TSA (chain fetched from its
    /// /api/v1/timestamp/certchain unless --tsa-chain).
    #[arg(long)]
    tsa_url: Option<String>,
    #[arg(long)]
    tsa_chain: Option<PathBuf>,
    /// OIDC issuer URL for signing_config oidcUrls.
    #[arg(long)]
    oidc_url: Option<String>,
    /// Operator name in signing_config.
    #[arg(long, default_value = "sigstack")]
    operator: String,
    /// validFor.start of new entries (RFC 3339; default now, for a CA the
    /// notBefore of its first certificate).
    #[arg(long)]
    start: Option<String>,
    #[arg(long = "targets-key")]
    targets_key: Vec<String>,
}

#[derive(Args)]
struct RotateKeyArgs {
    #[command(flatten)]
    ws: WsArg,
    #[arg(long, value_parser = ["rekor", "ctlog", "fulcio", "tsa"])]
    service: String,
    /// The service URL as listed in the trusted root.
    #[arg(long)]
    url: String,
    /// New PEM public key (rekor, ctlog).
    #[arg(long, conflicts_with = "chain")]
    public_key: Option<PathBuf>,
    /// New PEM chain (fulcio, tsa).
    #[arg(long)]
    chain: Option<PathBuf>,
    /// Last time the old key/chain is trusted for (RFC 3339; default now).
    #[arg(long)]
    old_end: Option<String>,
    #[arg(long)]
    start: Option<String>,
    #[arg(long = "targets-key")]
    targets_key: Vec<String>,
}

#[derive(Args)]
struct RotateRootArgs {
    #[command(flatten)]
    ws: WsArg,
    /// Current root keys to sign root N+1 with (repeat).
    #[arg(long = "old-root-key")]
    old_root_key: Vec<String>,
    /// The new set of root keys (repeat); default: unchanged.
    #[arg(long = "root-key")]
    root_key: Vec<String>,
    #[arg(long)]
    root_threshold: Option<u64>,
    /// New targets/snapshot/timestamp keys (default: unchanged).
    #[arg(long = "targets-key")]
    targets_key: Vec<String>,
    #[arg(long = "snapshot-key")]
    snapshot_key: Vec<String>,
    #[arg(long = "timestamp-key")]
    timestamp_key: Vec<String>,
}

#[derive(Args)]
struct VerifyArgs {
    /// The trusted root.json to start from.
    #[arg(long)]
    root: PathBuf,
    #[arg(long, conflicts_with_all = ["repository", "url"])]
    dir: Option<PathBuf>,
    #[arg(long, conflicts_with = "url")]
    repository: Option<PathBuf>,
    /// Repository base URL (http).
    #[arg(long)]
    url: Option<String>,
    /// Client cache: remembers root/timestamp/snapshot between runs, so a
    /// rollback is detected as a client would.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Warn about anything that expires within this many days.
    #[arg(long, default_value_t = 30)]
    warn_days: i64,
    /// Check as of this time (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<String>,
}

fn refs(list: &[String]) -> Result<Vec<KeyRef>> {
    list.iter()
        .map(|s| KeyRef::parse(s).map_err(Into::into))
        .collect()
}

fn opt_refs(list: &[String]) -> Result<Option<Vec<KeyRef>>> {
    Ok(if list.is_empty() {
        None
    } else {
        Some(refs(list)?)
    })
}

fn time_arg(s: &Option<String>) -> Result<Option<OffsetDateTime>> {
    s.as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .with_context(|| format!("{s:?} is not an RFC 3339 time"))
        })
        .transpose()
}

pub fn main() -> ExitCode {
    sigstack_http::init_tracing(true);
    let cli = Cli::parse();
    match run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_status(status: &RootStatus) {
    match status {
        RootStatus::Published(v) => println!("root v{v} published"),
        RootStatus::Staged { version, missing } => {
            println!("root v{version} staged, not yet published: {missing}");
            println!("add signatures with `tuf-root sign-root --key ...`");
        }
    }
}

fn run(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Keygen {
            out,
            ed25519,
            unencrypted,
        } => {
            let r = KeyRef::parse(&out)?;
            let (key, id) = keys::generate(&r, ed25519, !unencrypted)?;
            println!("{id}  {} {}  {r}", key.keytype, key.scheme);
        }
        Cmd::Init(a) => init(a)?,
        Cmd::AddTarget {
            ws,
            name,
            file,
            custom,
            targets_key,
        } => {
            let w = Workspace::open(&ws.dir)?;
            let bytes = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let custom = custom
                .map(|c| {
                    serde_json::from_str::<serde_json::Value>(&c).context("--custom is not JSON")
                })
                .transpose()?;
            if custom.as_ref().is_some_and(|c| !c.is_object()) {
                bail!("--custom must be a JSON object");
            }
            let v = w.add_target(&name, &bytes, custom, opt_refs(&targets_key)?.as_deref())?;
            println!("targets v{v}: {name} ({} bytes)", bytes.len());
        }
        Cmd::RemoveTarget {
            ws,
            name,
            targets_key,
        } => {
            let w = Workspace::open(&ws.dir)?;
            let v = w.remove_target(&name, opt_refs(&targets_key)?.as_deref())?;
            println!("targets v{v}: {name} removed");
        }
        Cmd::SetTrust(a) => set_trust(a)?,
        Cmd::RotateKey(a) => rotate_key(a)?,
        Cmd::Refresh { ws, force } => {
            let w = Workspace::open(&ws.dir)?;
            for line in w.refresh(force)? {
                println!("{line}");
            }
        }
        Cmd::RotateRoot(a) => {
            let w = Workspace::open(&a.ws.dir)?;
            let status = w.rotate_root(RotateOptions {
                old_root_keys: refs(&a.old_root_key)?,
                root_keys: opt_refs(&a.root_key)?,
                root_threshold: a.root_threshold,
                targets_keys: opt_refs(&a.targets_key)?,
                snapshot_keys: opt_refs(&a.snapshot_key)?,
                timestamp_keys: opt_refs(&a.timestamp_key)?,
            })?;
            print_status(&status);
        }
        Cmd::SignRoot { ws, key } => {
            let w = Workspace::open(&ws.dir)?;
            print_status(&w.sign_root(&refs(&key)?)?);
        }
        Cmd::Verify(a) => return verify(a),
        Cmd::Serve {
            dir,
            repository,
            listen,
            tls,
        } => {
            let repo = match (dir, repository) {
                (Some(d), None) => Workspace::open(&d)?.repository(),
                (None, Some(r)) => r,
                _ => bail!("give --dir or --repository"),
            };
            if !repo.join("timestamp.json").is_file() {
                bail!(
                    "{} has no timestamp.json: not a published repository",
                    repo.display()
                );
            }
            let config = tls.load()?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("listen on {listen}"))?;
                let addr = listener.local_addr()?;
                sigstack_http::tls::check_plain_http(addr, config.is_some(), tls.insecure_http)?;
                tracing::info!(%addr, repo = %repo.display(), "serving TUF repository");
                sigstack_http::tls::serve(
                    listener,
                    crate::serve::router(repo),
                    config,
                    sigstack_http::shutdown_signal(),
                )
                .await?;
                anyhow::Ok(())
            })?;
        }
        Cmd::Export { ws, out } => {
            let w = Workspace::open(&ws.dir)?;
            w.check()
                .context("the repository does not verify; not exporting it")?;
            let n = crate::bundle::export(&w.repository(), &out)?;
            let root = std::fs::read(w.repository().join("1.root.json"))?;
            println!("{}: {n} files", out.display());
            println!(
                "root.json sha256 {}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&root))
            );
        }
        Cmd::Import { file, out } => {
            let tar = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let hash = crate::bundle::import(&tar, &out, OffsetDateTime::now_utc())?;
            println!("{} imported into {}", file.display(), out.display());
            println!("root.json sha256 {hash} (compare with the value printed at export)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn init(a: InitArgs) -> Result<()> {
    let dir = &a.ws.dir;
    let mut lists = [
        ("root", a.root_key),
        ("targets", a.targets_key),
        ("snapshot", a.snapshot_key),
        ("timestamp", a.timestamp_key),
    ];
    if a.generate {
        if dir.join(repo::CONFIG_FILE).exists() {
            bail!("{} is already a tuf-root workspace", dir.display());
        }
        std::fs::create_dir_all(dir)?;
        let abs = dir.canonicalize()?;
        for (role, list) in lists.iter_mut() {
            if list.is_empty() {
                let path = abs.join("keys").join(format!("{role}.pem"));
                keys::generate(&KeyRef::File(path.clone()), false, false)?;
                list.push(path.display().to_string());
            }
        }
    }
    let [(_, root), (_, targets), (_, snapshot), (_, timestamp)] = lists;
    let root_keys = refs(&root)?;
    let n = root_keys.len() as u64;
    let opts = InitOptions {
        root_threshold: a.root_threshold.unwrap_or(n / 2 + 1),
        root_keys,
        targets_keys: refs(&targets)?,
        snapshot_keys: refs(&snapshot)?,
        timestamp_keys: refs(&timestamp)?,
        expiry: Expiry {
            root: a.root_expires_days,
            targets: a.targets_expires_days,
            snapshot: a.snapshot_expires_days,
            timestamp: a.timestamp_expires_days,
        },
    };
    let (ws, status) = Workspace::init(dir, opts)?;
    print_status(&status);
    if let Ok(state) = ws.state() {
        print_keys(&state.root);
    } else {
        let staged = std::fs::read(ws.dir().join("staged/1.root.json"))?;
        print_keys(&tuf::Envelope::from_slice(&staged)?.parse()?);
    }
    println!("repository: {}", ws.repository().display());
    Ok(())
}

fn print_keys(root: &tuf::Root) {
    for (role, keys) in &root.roles {
        println!("{role} (threshold {}):", keys.threshold);
        for id in &keys.keyids {
            let kt = root.keys.get(id).map(|k| k.scheme.as_str()).unwrap_or("?");
            println!("  {id}  {kt}");
        }
    }
}

async fn http_get(url: &str) -> Result<Vec<u8>> {
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !resp.status().is_success() {
        bail!("GET {url}: HTTP {}", resp.status());
    }
    Ok(resp.bytes().await?.to_vec())
}

fn pem_chain(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>> {
    let blocks = sigstack_core::pem::parse_all(bytes).with_context(|| what.to_string())?;
    let chain: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.contents)
        .collect();
    if chain.is_empty() {
        bail!("{what}: no certificates");
    }
    Ok(chain)
}

fn pem_key(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let key = PublicKey::from_pem(bytes).with_context(|| what.to_string())?;
    Ok(key.to_spki_der())
}

/// Gathers the public material: files when given, else from the services.
fn gather(a: &TrustArgs) -> Result<TrustInput> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut input = TrustInput {
        operator: a.operator.clone(),
        start: time_arg(&a.start)?,
        oidc_url: a.oidc_url.clone(),
        ..Default::default()
    };
    if let Some(url) = &a.fulcio_url {
        let chain = match &a.fulcio_chain {
            Some(p) => pem_chain(&std::fs::read(p)?, &p.display().to_string())?,
            None => {
                let body = rt.block_on(http_get(&format!(
                    "{}/api/v2/trustBundle",
                    url.trim_end_matches('/')
                )))?;
                let v: serde_json::Value =
                    serde_json::from_slice(&body).context("Fulcio trust bundle")?;
                let pems = v["chains"][0]["certificates"]
                    .as_array()
                    .ok_or_else(|| anyhow!("Fulcio trust bundle has no chains[0].certificates"))?;
                let text: String = pems
                    .iter()
                    .filter_map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                pem_chain(text.as_bytes(), "Fulcio trust bundle")?
            }
        };
        input.fulcio = Some(ChainInput {
            url: url.clone(),
            chain_der: chain,
        });
    } else if a.fulcio_chain.is_some() {
        bail!("--fulcio-chain needs --fulcio-url");
    }
    if let Some(url) = &a.rekor_url {
        let pem = match &a.rekor_public_key {
            Some(p) => std::fs::read(p)?,
            None => rt.block_on(http_get(&format!(
                "{}/api/v1/log/publicKey",
                url.trim_end_matches('/')
            )))?,
        };
        input.rekor = Some(LogInput {
            url: url.clone(),
            spki_der: pem_key(&pem, "Rekor public key")?,
        });
    } else if a.rekor_public_key.is_some() {
        bail!("--rekor-public-key needs --rekor-url");
    }
    if let (Some(url), Some(p)) = (&a.rekor_v2_url, &a.rekor_v2_public_key) {
        input.rekor_v2 = Some(LogInput {
            url: url.clone(),
            spki_der: pem_key(&std::fs::read(p)?, &p.display().to_string())?,
        });
    }
    if let (Some(url), Some(p)) = (&a.ctlog_url, &a.ctlog_public_key) {
        input.ctlog = Some(LogInput {
            url: url.clone(),
            spki_der: pem_key(&std::fs::read(p)?, &p.display().to_string())?,
        });
    }
    if let Some(url) = &a.tsa_url {
        let pem = match &a.tsa_chain {
            Some(p) => std::fs::read(p)?,
            None => {
                let u = url::Url::parse(url)?;
                rt.block_on(http_get(&format!(
                    "{}/api/v1/timestamp/certchain",
                    u.origin().ascii_serialization()
                )))?
            }
        };
        input.tsa = Some(ChainInput {
            url: url.clone(),
            chain_der: pem_chain(&pem, "TSA chain")?,
        });
    } else if a.tsa_chain.is_some() {
        bail!("--tsa-chain needs --tsa-url");
    }
    Ok(input)
}

/// Reads the published trusted root and signing config (if any).
fn published(w: &Workspace) -> Result<(Option<TrustedRoot>, Option<SigningConfig>)> {
    let state = w.state()?;
    let read = |name: &str| -> Result<Option<Vec<u8>>> {
        let Some(info) = state.targets.targets.get(name) else {
            return Ok(None);
        };
        let hash = info
            .sha256()
            .ok_or_else(|| anyhow!("{name} has no sha256"))?;
        let p = w
            .repository()
            .join("targets")
            .join(format!("{hash}.{name}"));
        Ok(Some(
            std::fs::read(&p).with_context(|| p.display().to_string())?,
        ))
    };
    let tr = read("trusted_root.json")?
        .map(|b| TrustedRoot::from_json(&b))
        .transpose()?;
    let sc = read("signing_config.v0.2.json")?
        .map(|b| SigningConfig::from_json(&b))
        .transpose()?;
    Ok((tr, sc))
}

fn publish_trust(
    w: &Workspace,
    input: &TrustInput,
    signing: bool,
    targets_key: &[String],
) -> Result<()> {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let (tr, sc) = published(w)?;
    let (root, changes) = trust::merge_trusted_root(tr, input, now)?;
    let tr_bytes = trust::to_bytes(&root)?;
    trust::validate_trusted_root(&tr_bytes)?;
    let keys = opt_refs(targets_key)?;
    let mut names = Vec::new();
    if !changes.is_empty() || !w.dir().join("trusted_root.json").exists() {
        names.push(("trusted_root.json", tr_bytes));
    }
    if signing {
        let sc_new = trust::merge_signing_config(sc.clone(), input, now);
        if sc.as_ref() != Some(&sc_new) {
            let b = trust::to_bytes(&sc_new)?;
            trust::validate_signing_config(&b)?;
            names.push(("signing_config.v0.2.json", b));
        }
    }
    for c in &changes {
        println!("{c}");
    }
    if names.is_empty() {
        println!("trust material unchanged; nothing published");
    }
    for (name, bytes) in names {
        let v = w.add_target(name, &bytes, None, keys.as_deref())?;
        repo::write_atomic(&w.dir().join(name), &bytes, true)?;
        println!("targets v{v}: {name} published ({} bytes)", bytes.len());
    }
    // The same material as one local file, for clients used without TUF
    // (`sigstore --trust-config`).
    if let (Some(trusted_root), Some(signing_config)) = published(w)? {
        let ctc = ClientTrustConfig {
            media_type: CLIENT_TRUST_CONFIG_MEDIA_TYPE_V0_1.to_string(),
            trusted_root,
            signing_config,
        };
        repo::write_atomic(
            &w.dir().join("client_trust_config.json"),
            &trust::to_bytes(&ctc)?,
            true,
        )?;
    }
    Ok(())
}

fn set_trust(a: TrustArgs) -> Result<()> {
    let w = Workspace::open(&a.ws.dir)?;
    let input = gather(&a)?;
    publish_trust(&w, &input, true, &a.targets_key)
}

fn rotate_key(a: RotateKeyArgs) -> Result<()> {
    let w = Workspace::open(&a.ws.dir)?;
    let mut input = TrustInput {
        start: time_arg(&a.start)?,
        old_end: time_arg(&a.old_end)?,
        ..Default::default()
    };
    let (_, sc) = published(&w)?;
    input.operator = sc
        .and_then(|s| s.ca_urls.first().map(|c| c.operator.clone()))
        .unwrap_or_else(|| "sigstack".into());
    match a.service.as_str() {
        "rekor" | "ctlog" => {
            let p = a
                .public_key
                .as_ref()
                .ok_or_else(|| anyhow!("--public-key is required for {}", a.service))?;
            let log = LogInput {
                url: a.url.clone(),
                spki_der: pem_key(&std::fs::read(p)?, &p.display().to_string())?,
            };
            if a.service == "rekor" {
                input.rekor = Some(log)
            } else {
                input.ctlog = Some(log)
            }
        }
        _ => {
            let p = a
                .chain
                .as_ref()
                .ok_or_else(|| anyhow!("--chain is required for {}", a.service))?;
            let chain = ChainInput {
                url: a.url.clone(),
                chain_der: pem_chain(&std::fs::read(p)?, &p.display().to_string())?,
            };
            if a.service == "fulcio" {
                input.fulcio = Some(chain)
            } else {
                input.tsa = Some(chain)
            }
        }
    }
    publish_trust(&w, &input, false, &a.targets_key)
}

fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let now = time_arg(&a.at)?.unwrap_or_else(OffsetDateTime::now_utc);
    let mut fetcher: Box<dyn tuf::Fetcher> = match (&a.dir, &a.repository, &a.url) {
        (Some(d), None, None) => Box::new(repo::DirFetcher(Workspace::open(d)?.repository())),
        (None, Some(r), None) => Box::new(repo::DirFetcher(r.clone())),
        (None, None, Some(u)) => Box::new(sigstack_http::tuf_fetch::HttpFetcher::new(u)?),
        _ => bail!("give one of --dir, --repository, --url"),
    };
    let bootstrap = std::fs::read(&a.root).with_context(|| a.root.display().to_string())?;
    let set = sigstack_http::tuf_fetch::refresh_cached(
        Some(&bootstrap),
        a.cache.as_deref(),
        fetcher.as_mut(),
        now,
    )
    .context("repository refresh")?;
    // Offline roles and certificates: warn --warn-days ahead. Snapshot and
    // timestamp are renewed by `refresh` at half-life, so less than two
    // days left means the refresh job is not running.
    let warn = time::Duration::days(a.warn_days);
    let warn_online = time::Duration::days(2);
    let mut warnings = 0;
    let mut report = |what: String, expires: OffsetDateTime, within: time::Duration| {
        let left = expires - now;
        let flag = if left < within {
            warnings += 1;
            "  WARNING: expires soon"
        } else {
            ""
        };
        println!(
            "{what:<40} expires {} ({} days){flag}",
            tuf::format_expires(expires),
            left.whole_days()
        );
    };
    report(
        format!("root v{}", set.root().version()),
        set.root().expires(),
        warn,
    );
    if let Some(t) = set.targets() {
        report(format!("targets v{}", t.version()), t.expires(), warn);
    }
    if let Some(s) = set.snapshot() {
        report(
            format!("snapshot v{}", s.version()),
            s.expires(),
            warn_online,
        );
    }
    if let Some(t) = set.timestamp() {
        report(
            format!("timestamp v{}", t.version()),
            t.expires(),
            warn_online,
        );
    }
    let mut line = |what: String, expires: OffsetDateTime| report(what, expires, warn);
    let names: Vec<String> = set
        .targets()
        .map(|t| t.targets.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let bytes = tuf::fetch_target(&set, fetcher.as_mut(), &name)
            .with_context(|| format!("target {name}"))?;
        println!("target {name}: {} bytes, hash ok", bytes.len());
        match name.as_str() {
            "trusted_root.json" => {
                let tr = trust::validate_trusted_root(&bytes)?;
                report_trusted_root(&tr, now, &mut line);
            }
            "signing_config.v0.2.json" => {
                let sc = trust::validate_signing_config(&bytes)?;
                for (kind, list) in [
                    ("ca", &sc.ca_urls),
                    ("oidc", &sc.oidc_urls),
                    ("rekor", &sc.rekor_tlog_urls),
                    ("tsa", &sc.tsa_urls),
                ] {
                    for s in list {
                        println!(
                            "  sign with {kind} {} (v{}, {})",
                            s.url, s.major_api_version, s.operator
                        );
                    }
                }
            }
            _ => {}
        }
    }
    println!(
        "OK: the repository verifies{}",
        if warnings > 0 {
            format!(" ({warnings} warning(s))")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn report_trusted_root(
    tr: &TrustedRoot,
    now: OffsetDateTime,
    line: &mut dyn FnMut(String, OffsetDateTime),
) {
    let window = |v: &sigstack_core::trust::TimeRange| match v.end {
        Some(e) => format!(
            "{} .. {}",
            tuf::format_expires(v.start),
            tuf::format_expires(e)
        ),
        None => format!("{} .. (open)", tuf::format_expires(v.start)),
    };
    for (kind, logs) in [("tlog", &tr.tlogs), ("ctlog", &tr.ctlogs)] {
        for l in logs {
            let v = l
                .public_key
                .valid_for
                .as_ref()
                .map(window)
                .unwrap_or_default();
            println!(
                "  {kind} {} logId {} valid {v}",
                l.base_url,
                hex::encode(&l.log_id.key_id)
            );
        }
    }
    for (kind, cas) in [
        ("ca", &tr.certificate_authorities),
        ("tsa", &tr.timestamp_authorities),
    ] {
        for c in cas {
            println!(
                "  {kind} {} ({}) valid {}",
                c.uri,
                c.subject.common_name,
                window(&c.valid_for)
            );
            if c.valid_for.end.is_some_and(|e| e < now) {
                continue; // retired: only verifies old signatures
            }
            for cert in &c.cert_chain.certificates {
                if let Ok(x) = sigstack_core::keys::parse_certificate_der(&cert.raw_bytes) {
                    let not_after: OffsetDateTime =
                        crate::trust::x509_time(&x.tbs_certificate.validity.not_after);
                    line(format!("    cert {}", x.tbs_certificate.subject), not_after);
                }
            }
        }
    }
}
