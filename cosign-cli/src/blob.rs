//! Blobs with Sigstore bundles, as Go cosign v3 does them by default:
//! `sign-blob` (message signature + hashedrekord), `attest-blob` (in-toto
//! statement in DSSE + dsse entry), and their verifiers, which check a bundle
//! against a trusted root without any network call when the root is a file.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sigstack_core::keys::{sha256_key_id, HashAlgorithm, PublicKey};
use sigstack_core::trust::{
    select_service, Bundle, BundleContent, Envelope, EnvelopeSignature, HashOutput,
    MessageSignature, PublicKeyIdentifier, Rfc3161SignedTimestamp, SigningConfig,
    TimestampVerificationData, TransparencyLogEntry, TrustedRoot, VerificationMaterial,
    VerificationMaterialContent, X509Certificate, X509CertificateChain, BUNDLE_MEDIA_TYPE_V0_1,
    BUNDLE_MEDIA_TYPE_V0_3,
};
use sigstack_core::verify::{
    self, pae, Artifact, IdentityPolicy, Matcher, Options, SignerPolicy, VerifyError,
};
use time::OffsetDateTime;

use crate::cli::{load_signing_key, read_blob, read_key_ref, write_file};
use crate::client::{self, Http};
use crate::envtrust;
use crate::keys::{PrivateKey, SigningKey};

/// Go cosign's default `--timeout`.
const TIMEOUT: Duration = Duration::from_secs(180);
/// DSSE payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// How to sign: key or keyless, which services, where the bundle goes.
/// Shared by `sign-blob` and `attest-blob` (same flags and variables as Go
/// cosign).
#[derive(clap::Args, Debug)]
pub struct SigningFlags {
    #[arg(long = "key", env = "COSIGN_KEY")]
    pub key: Option<String>,
    /// Write the Sigstore bundle (v0.3) here.
    #[arg(long = "bundle", env = "COSIGN_BUNDLE")]
    pub bundle: Option<String>,
    #[arg(long = "signing-config", env = "COSIGN_SIGNING_CONFIG")]
    pub signing_config: Option<String>,
    #[arg(long = "use-signing-config", env = "COSIGN_USE_SIGNING_CONFIG", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub use_signing_config: bool,
    /// Accepted for compatibility; signing does not need it.
    #[arg(long = "trusted-root", env = "COSIGN_TRUSTED_ROOT")]
    pub trusted_root: Option<String>,
    /// An OIDC ID token, or a file holding one.
    #[arg(long = "identity-token", env = "COSIGN_IDENTITY_TOKEN")]
    pub identity_token: Option<String>,
    #[arg(long = "fulcio-url", env = "COSIGN_FULCIO_URL")]
    pub fulcio_url: Option<String>,
    #[arg(long = "rekor-url", env = "COSIGN_REKOR_URL")]
    pub rekor_url: Option<String>,
    /// Full URL of an RFC 3161 TSA (deprecated upstream; the signing
    /// config's `tsaUrls` replaces it).
    #[arg(long = "timestamp-server-url", env = "COSIGN_TIMESTAMP_SERVER_URL")]
    pub timestamp_server_url: Option<String>,
    /// The OIDC issuer for the interactive flow (default: the signing
    /// config's `oidcUrls`).
    #[arg(long = "oidc-issuer", env = "COSIGN_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(
        long = "oidc-client-id",
        env = "COSIGN_OIDC_CLIENT_ID",
        default_value = "sigstore"
    )]
    pub oidc_client_id: String,
    /// Use only this ambient token provider: envvar, filesystem or github-actions.
    #[arg(long = "oidc-provider", env = "COSIGN_OIDC_PROVIDER")]
    pub oidc_provider: Option<String>,
    /// Skip the ambient providers (SIGSTORE_ID_TOKEN, the token file, GitHub Actions).
    #[arg(long = "oidc-disable-ambient-providers", env = "COSIGN_OIDC_DISABLE_AMBIENT_PROVIDERS", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub oidc_disable_ambient_providers: bool,
    /// File holding the OIDC client secret, if the issuer wants one.
    #[arg(
        long = "oidc-client-secret-file",
        env = "COSIGN_OIDC_CLIENT_SECRET_FILE"
    )]
    pub oidc_client_secret_file: Option<String>,
    /// Where the browser sign-in comes back (default
    /// `http://localhost:<random port>/auth/callback`).
    #[arg(long = "oidc-redirect-url", env = "COSIGN_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// How to get a token when none is given: `normal` (browser sign-in
    /// with a loopback redirect; the default on a terminal) or `device`
    /// (RFC 8628; the default otherwise), as Go cosign.
    #[arg(long = "fulcio-auth-flow", env = "COSIGN_FULCIO_AUTH_FLOW")]
    pub fulcio_auth_flow: Option<String>,
    #[arg(long = "tlog-upload", env = "COSIGN_TLOG_UPLOAD", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tlog_upload: bool,
    #[arg(long = "new-bundle-format", env = "COSIGN_NEW_BUNDLE_FORMAT", default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub new_bundle_format: bool,
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
}

/// Where to sign: Fulcio and Rekor URLs (only the ones needed).
struct Services {
    fulcio: Option<String>,
    /// The log and its API version (1, or 2 for a tiles log).
    rekor: Option<(String, u32)>,
    oidc: Option<String>,
    tsa: Option<String>,
}

/// The services from `--signing-config`, from the TUF-distributed signing
/// config, or from the deprecated URL flags with `--use-signing-config=false`,
/// with Go cosign's rule that flags and a signing config are exclusive.
fn services(a: &SigningFlags) -> Result<Services> {
    let flags = a.fulcio_url.is_some()
        || a.rekor_url.is_some()
        || a.oidc_issuer.is_some()
        || a.timestamp_server_url.is_some();
    if a.signing_config.is_some() || a.use_signing_config {
        if flags {
            bail!("cannot specify service URLs and use signing config");
        }
        let now = OffsetDateTime::now_utc();
        let sc = match &a.signing_config {
            Some(path) => SigningConfig::from_json(
                &std::fs::read(path).with_context(|| format!("reading signing config {path}"))?,
            )
            .map_err(|e| anyhow!("signing config {path}: {e}"))?,
            None => {
                let trust = crate::tuf::load(&crate::tuf::tuf_root()?, now)?;
                let bytes = trust.signing_config.ok_or_else(|| {
                    anyhow!(
                        "the TUF repository at {} has no {}: pass --signing-config FILE",
                        trust.mirror,
                        crate::tuf::SIGNING_CONFIG_TARGET
                    )
                })?;
                SigningConfig::from_json(&bytes)
                    .map_err(|e| anyhow!("signing config from {}: {e}", trust.mirror))?
            }
        };
        return Ok(Services {
            fulcio: select_service(&sc.ca_urls, &[1], now).map(|s| s.url.clone()),
            // The highest API version any valid service offers, as Go cosign
            // (sign.RekorAPIVersions = [1, 2]) and sigstore-python choose.
            // The legacy formats (--new-bundle-format=false: the Rekor bundle
            // annotation, the old bundle file) exist only for v1 entries.
            rekor: if a.new_bundle_format {
                select_service(&sc.rekor_tlog_urls, &[2], now)
            } else {
                None
            }
            .or_else(|| select_service(&sc.rekor_tlog_urls, &[1], now))
            .map(|s| (s.url.clone(), s.major_api_version)),
            oidc: select_service(&sc.oidc_urls, &[1], now).map(|s| s.url.clone()),
            // tsaConfig ANY (the only selector the publishers write): one TSA.
            tsa: select_service(&sc.tsa_urls, &[1], now).map(|s| s.url.clone()),
        });
    }
    Ok(Services {
        fulcio: Some(
            a.fulcio_url
                .clone()
                .unwrap_or_else(|| "https://fulcio.sigstore.dev".into()),
        ),
        rekor: Some((
            a.rekor_url
                .clone()
                .unwrap_or_else(|| "https://rekor.sigstore.dev".into()),
            1,
        )),
        oidc: Some(
            a.oidc_issuer
                .clone()
                .unwrap_or_else(|| "https://oauth2.sigstore.dev/auth".into()),
        ),
        tsa: a.timestamp_server_url.clone(),
    })
}

/// No token was given: the interactive flow against the signing config's
/// OIDC issuer. Only the device flow (RFC 8628) is implemented; it is what Go
/// cosign uses when stdin is not a terminal, and works over SSH.
fn interactive_token(a: &SigningFlags, svc: Option<&Services>, http: &Http) -> Result<String> {
    use std::io::IsTerminal;
    let browser = match a.fulcio_auth_flow.as_deref() {
        Some("normal") => true,
        Some("device") => false,
        None => std::io::stdin().is_terminal(),
        Some("token") => bail!("--fulcio-auth-flow=token needs --identity-token or SIGSTORE_ID_TOKEN"),
        Some(other) => bail!("--fulcio-auth-flow={other} is not supported: use normal or device, or pass --identity-token"),
    };
    let issuer = svc
        .and_then(|s| s.oidc.clone())
        .ok_or_else(|| anyhow!("no identity token and no OIDC issuer: pass --identity-token, set SIGSTORE_ID_TOKEN, or use a signing config with oidcUrls"))?;
    let token = if browser {
        let secret = a
            .oidc_client_secret_file
            .as_deref()
            .map(|p| {
                std::fs::read_to_string(p)
                    .map(|s| s.trim().to_owned())
                    .with_context(|| format!("reading --oidc-client-secret-file {p}"))
            })
            .transpose()?;
        let flow = crate::oauth::CodeFlow {
            issuer: &issuer,
            client_id: &a.oidc_client_id,
            client_secret: secret.as_deref(),
            redirect_url: a.oidc_redirect_url.as_deref(),
        };
        let show = |url: &str| {
            eprintln!("Your browser will now be opened to:\n{url}");
            crate::oauth::open_browser(url);
        };
        crate::oauth::browser_flow(http, &flow, &show)?
    } else {
        let show = |code: &str, uri: &str, complete: Option<&str>| {
            eprintln!("Enter the verification code {code} in your browser at: {uri}");
            if let Some(c) = complete {
                eprintln!("(or open {c})");
            }
            eprintln!("Code will be valid until it expires; waiting for approval...");
        };
        http.device_flow(&issuer, &a.oidc_client_id, &show)?
    };
    eprintln!("Successfully verified the identity token from {issuer}");
    Ok(token)
}

/// A signing session: the key (given, or ephemeral with its Fulcio leaf),
/// the services, and the HTTP client.
pub(crate) struct Session {
    key: SigningKey,
    /// Keyless: the Fulcio leaf certificate (DER). Only the leaf goes into a
    /// v0.3 bundle and the log entry; the chain is in the trusted root.
    leaf: Option<Vec<u8>>,
    /// Keyless: the rest of Fulcio's chain (DER, intermediates then root),
    /// for the legacy `chain` annotation only.
    chain: Vec<Vec<u8>>,
    rekor: Option<(String, u32)>,
    /// The TSA, when the signing config (or `--timestamp-server-url`) names one.
    tsa: Option<String>,
    http: Http,
}

/// What vouches for a signature: log entries and RFC 3161 timestamps
/// (DER `TimeStampResp`s).
#[derive(Default)]
pub(crate) struct Witnesses {
    pub entries: Vec<TransparencyLogEntry>,
    pub timestamps: Vec<Vec<u8>>,
}

/// What [`Session::sign_message`] produced.
pub(crate) struct SignedMessage {
    pub alg: HashAlgorithm,
    pub digest: Vec<u8>,
    pub signature: Vec<u8>,
    pub witnesses: Witnesses,
}

/// `sign-blob` and `attest-blob` write the v0.3 bundle to a file: it is required.
fn require_bundle(a: &SigningFlags) -> Result<()> {
    if a.new_bundle_format && a.bundle.is_none() && (a.tlog_upload || a.key.is_none()) {
        bail!("must provide --bundle with --new-bundle-format (the default)");
    }
    Ok(())
}

impl Session {
    pub(crate) fn open(a: &SigningFlags) -> Result<Self> {
        // An explicit signing config or TSA URL is read even for a key with
        // --tlog-upload=false (it may name a TSA); otherwise such a signer
        // needs no service and never touches TUF.
        let svc = if a.tlog_upload
            || a.key.is_none()
            || a.signing_config.is_some()
            || a.timestamp_server_url.is_some()
        {
            Some(services(a)?)
        } else {
            None
        };
        let http = Http::new(TIMEOUT)?;
        let (key, leaf, chain) = match &a.key {
            Some(k) => (load_signing_key(k)?, None, Vec::new()),
            None => {
                let token = match &a.identity_token {
                    Some(t) => client::resolve_token(t)?,
                    None => match crate::ambient::token(
                        &http,
                        a.oidc_provider.as_deref(),
                        a.oidc_disable_ambient_providers,
                    )? {
                        Some(t) => t,
                        None => interactive_token(a, svc.as_ref(), &http)?,
                    },
                };
                let fulcio = svc.as_ref().and_then(|s| s.fulcio.clone()).ok_or_else(|| {
                    anyhow!("the signing config names no Fulcio (caUrls) with API version 1")
                })?;
                let key = PrivateKey::generate_p256();
                let subject = client::token_subject(&token)?;
                let mut chain = http.fulcio_certificate(&fulcio, &token, &key, &subject)?;
                let leaf = chain.remove(0);
                eprintln!("Successfully retrieved a signing certificate from {fulcio}");
                (SigningKey::Local(Box::new(key)), Some(leaf), chain)
            }
        };
        let rekor = match (&svc, a.tlog_upload) {
            (Some(s), true) => Some(s.rekor.clone().ok_or_else(|| {
                anyhow!("the signing config names no Rekor (rekorTlogUrls) with API version 1 or 2")
            })?),
            _ => None,
        };
        let tsa = svc.as_ref().and_then(|s| s.tsa.clone());
        // A v2 log gives no signing time; Go cosign refuses keyless signing
        // to it without a TSA, since the certificate could never be dated.
        if matches!(&rekor, Some((_, 2))) && tsa.is_none() && a.key.is_none() {
            bail!("a timestamp authority must be provided: the signing config's Rekor v2 log records no signing time, and the signing config names no TSA (tsaUrls)");
        }
        if rekor.is_some() && matches!(key.public_key(), PublicKey::Ed25519(_)) {
            bail!("Ed25519 keys sign Rekor entries as Ed25519ph, which this client does not do yet; use an ECDSA or RSA key, or --tlog-upload=false");
        }
        Ok(Session {
            key,
            leaf,
            chain,
            rekor,
            tsa,
            http,
        })
    }

    /// The PEM Rekor records as the verifier: the leaf, or the public key.
    fn verifier_pem(&self) -> String {
        match &self.leaf {
            Some(c) => sigstack_core::pem::encode("CERTIFICATE", c),
            None => self.key.public_key().to_pem(),
        }
    }

    /// A message signature over `data`, logged as a `hashedrekord` entry.
    pub(crate) fn sign_message(&self, data: &[u8]) -> Result<SignedMessage> {
        let alg = self.key.public_key().default_hash();
        let digest = alg.digest(data);
        let signature = self.key.sign(data)?;
        let verifier = self.verifier_pem();
        let witnesses = self.witness(
            &signature,
            &client::hashedrekord(alg, &digest, &signature, &verifier),
            &digest,
        )?;
        Ok(SignedMessage {
            alg,
            digest,
            signature,
            witnesses,
        })
    }

    /// The legacy image annotations of this session's signer: keyless, the
    /// leaf and the rest of the chain as PEM (`certificate`, `chain`); with
    /// a key, none.
    pub(crate) fn legacy_certificate_annotations(&self) -> Vec<(&'static str, String)> {
        match &self.leaf {
            Some(leaf) => vec![
                (
                    "dev.sigstore.cosign/certificate",
                    sigstack_core::pem::encode("CERTIFICATE", leaf),
                ),
                (
                    "dev.sigstore.cosign/chain",
                    self.chain
                        .iter()
                        .map(|c| sigstack_core::pem::encode("CERTIFICATE", c))
                        .collect(),
                ),
            ],
            None => Vec::new(),
        }
    }

    /// An in-toto statement in a DSSE envelope, signed and logged as a
    /// `dsse` 0.0.1 entry; also the envelope's JSON, which the log hashed.
    pub(crate) fn sign_statement(&self, payload: Vec<u8>) -> Result<(Envelope, String, Witnesses)> {
        let sig = self.key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload))?;
        let envelope = Envelope {
            payload,
            payload_type: INTOTO_PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature {
                sig,
                keyid: String::new(),
            }],
        };
        // Rekor stores the hash of exactly this envelope string.
        let envelope_json = serde_json::to_string(&envelope)?;
        let entry = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": envelope_json,
                "verifiers": [STANDARD.encode(self.verifier_pem())],
            }}
        });
        // Rekor v2 logs DSSE as a hashedrekord over the hash of the PAE.
        let pae_digest = self
            .key
            .public_key()
            .default_hash()
            .digest(&pae(INTOTO_PAYLOAD_TYPE, &envelope.payload));
        let witnesses = self.witness(&envelope.signatures[0].sig, &entry, &pae_digest)?;
        Ok((envelope, envelope_json, witnesses))
    }

    /// Timestamps `signature` when a TSA is in use, then logs it when a log
    /// is (the order Go cosign uses): `v1_entry` for Rekor v1, or a
    /// hashedrekord 0.0.2 over `digest` for Rekor v2.
    fn witness(&self, signature: &[u8], v1_entry: &Value, digest: &[u8]) -> Result<Witnesses> {
        let mut w = Witnesses::default();
        if let Some(tsa) = &self.tsa {
            w.timestamps.push(self.http.tsa_timestamp(tsa, signature)?);
            eprintln!("Timestamped the signature with {tsa}");
        }
        match &self.rekor {
            Some((url, 2)) => {
                let e = self
                    .http
                    .rekor_v2_upload(url, &self.v2_request(digest, signature)?)?;
                eprintln!("tlog entry created with index: {} (Rekor v2)", e.log_index);
                w.entries.push(e);
            }
            Some((url, _)) => {
                let e = self.http.rekor_upload(url, v1_entry)?;
                eprintln!("tlog entry created with index: {}", e.log_index);
                w.entries.push(e);
            }
            None => {}
        }
        Ok(w)
    }

    /// A Rekor v2 `hashedRekordRequestV002`: the leaf certificate (or the
    /// key's SPKI) with the key's default details, as sigstore-go sends it
    /// (and as every verifier rebuilds it).
    fn v2_request(&self, digest: &[u8], signature: &[u8]) -> Result<Value> {
        let key = self.key.public_key();
        let details = sigstack_core::rekor_v2::default_details(&key).map_err(|e| anyhow!(e))?;
        let verifier = match &self.leaf {
            Some(c) => json!({"x509Certificate": {"rawBytes": STANDARD.encode(c)}}),
            None => json!({"publicKey": {"rawBytes": STANDARD.encode(key.to_spki_der())}}),
        };
        let mut verifier = verifier;
        verifier["keyDetails"] = serde_json::to_value(details)?;
        Ok(json!({"hashedRekordRequestV002": {
            "digest": STANDARD.encode(digest),
            "signature": {"content": STANDARD.encode(signature), "verifier": verifier},
        }}))
    }

    /// A v0.3 bundle of `content` with this session's verification material.
    pub(crate) fn bundle(&self, witnesses: Witnesses, content: BundleContent) -> Bundle {
        let material = match &self.leaf {
            Some(c) => VerificationMaterialContent::Certificate(X509Certificate {
                raw_bytes: c.clone(),
            }),
            None => VerificationMaterialContent::PublicKey(PublicKeyIdentifier {
                hint: STANDARD.encode(sha256_key_id(&self.key.public_key().to_spki_der())),
            }),
        };
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE_V0_3.into(),
            verification_material: VerificationMaterial {
                content: material,
                tlog_entries: witnesses.entries,
                timestamp_verification_data: (!witnesses.timestamps.is_empty()).then(|| {
                    TimestampVerificationData {
                        rfc3161_timestamps: witnesses
                            .timestamps
                            .into_iter()
                            .map(|signed_timestamp| Rfc3161SignedTimestamp { signed_timestamp })
                            .collect(),
                    }
                }),
            },
            content,
        }
    }

    fn write_bundle(&self, path: &str, witnesses: Witnesses, content: BundleContent) -> Result<()> {
        let bundle = self.bundle(witnesses, content);
        write_file(Path::new(path), &serde_json::to_vec(&bundle)?, 0o644)?;
        eprintln!("Wrote bundle to file {path}");
        Ok(())
    }
}

/// `sign-blob`.
pub fn sign(
    a: &SigningFlags,
    output_signature: Option<String>,
    output_certificate: Option<String>,
    blob: &str,
) -> Result<()> {
    let data = read_blob(blob)?;
    eprintln!("Using payload from: {blob}");
    require_bundle(a)?;
    let s = Session::open(a)?;
    let SignedMessage {
        alg,
        digest,
        signature,
        witnesses,
    } = s.sign_message(&data)?;
    let verifier = s.verifier_pem();
    if let Some(path) = &a.bundle {
        let content = BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: alg.into(),
                digest,
            }),
            signature: signature.clone(),
        });
        s.write_bundle(path, witnesses, content)?;
    }
    if let Some(path) = &output_signature {
        write_file(
            Path::new(path),
            STANDARD.encode(&signature).as_bytes(),
            0o644,
        )?;
        eprintln!("Wrote signature to file {path}");
    }
    if let Some(path) = &output_certificate {
        write_file(Path::new(path), verifier.as_bytes(), 0o644)?;
        eprintln!("Wrote certificate to file {path}");
    }
    if a.bundle.is_none() && output_signature.is_none() {
        println!("{}", STANDARD.encode(&signature));
    }
    Ok(())
}

/// What `attest-blob` signs.
pub struct StatementSource {
    pub predicate: Option<String>,
    pub statement: Option<String>,
    pub predicate_type: String,
    pub hash: Option<String>,
}

/// The predicateType URI of a `--type` shorthand (cosign's
/// `PredicateTypeMap`); anything else must itself be a URI.
pub fn predicate_type_uri(t: &str) -> Result<String> {
    Ok(match t {
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "link" => "https://in-toto.io/Link/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        uri if url::Url::parse(uri).is_ok_and(|u| u.has_host()) => uri,
        other => bail!("invalid predicate type {other:?}: a shorthand (custom, slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex) or a URI"),
    }
    .to_owned())
}

/// The statement `attest-blob` signs: `--statement` verbatim (after a JSON
/// check), or an in-toto Statement v0.1 around the `--predicate` file, as
/// cosign builds it. Predicates other than `custom` and `spdx` must be JSON
/// objects; their schemas (SLSA, CycloneDX, ...) are not checked here.
fn statement(src: &StatementSource, blob: &str) -> Result<Vec<u8>> {
    match (&src.predicate, &src.statement) {
        (Some(_), Some(_)) | (None, None) => {
            bail!("exactly one of --predicate and --statement is required")
        }
        (None, Some(path)) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading statement {path}"))?;
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| anyhow!("statement {path} is not JSON: {e}"))?;
            if v.get("_type").is_none() || v.get("subject").is_none() {
                bail!("statement {path} is not an in-toto statement (no _type or subject)");
            }
            Ok(bytes)
        }
        (Some(path), None) => {
            let (uri, predicate) = predicate(path, &src.predicate_type)?;
            let digest = match &src.hash {
                Some(h) => {
                    let d = hex::decode(h)
                        .ok()
                        .filter(|d| d.len() == 32)
                        .ok_or_else(|| anyhow!("--hash {h:?} is not a SHA-256 hex digest"))?;
                    hex::encode(d)
                }
                None => hex::encode(HashAlgorithm::Sha256.digest(&read_blob(blob)?)),
            };
            let name = Path::new(blob)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| blob.to_owned());
            Ok(intoto_v01(&uri, &name, &digest, predicate))
        }
    }
}

/// The `--predicate` file for `--type`, as cosign wraps it: its URI and
/// the predicate value (`custom`: `{Data, Timestamp}`; `spdx`: the file as
/// a string; anything else must be a JSON object, schema not checked).
pub(crate) fn predicate(path: &str, predicate_type: &str) -> Result<(String, Value)> {
    let raw = std::fs::read(path).with_context(|| format!("reading predicate {path}"))?;
    let uri = predicate_type_uri(predicate_type)?;
    let predicate = match predicate_type {
        "custom" => json!({
            "Data": String::from_utf8_lossy(&raw),
            "Timestamp": OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default(),
        }),
        "spdx" => Value::String(String::from_utf8_lossy(&raw).into_owned()),
        _ => {
            let v: Value = serde_json::from_slice(&raw)
                .map_err(|e| anyhow!("predicate {path} is not JSON: {e}"))?;
            if !v.is_object() {
                bail!("predicate {path} must be a JSON object");
            }
            v
        }
    };
    Ok((uri, predicate))
}

/// An in-toto Statement v0.1 with one subject, as `attest`/`attest-blob` build it.
pub(crate) fn intoto_v01(uri: &str, name: &str, sha256_hex: &str, predicate: Value) -> Vec<u8> {
    json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": uri,
        "subject": [{"name": name, "digest": {"sha256": sha256_hex}}],
        "predicate": predicate,
    })
    .to_string()
    .into_bytes()
}

/// `attest-blob`.
pub fn attest(a: &SigningFlags, src: StatementSource, blob: &str) -> Result<()> {
    let payload = statement(&src, blob)?;
    require_bundle(a)?;
    let s = Session::open(a)?;
    let (envelope, envelope_json, witnesses) = s.sign_statement(payload)?;
    match &a.bundle {
        Some(path) => s.write_bundle(path, witnesses, BundleContent::DsseEnvelope(envelope))?,
        None => println!("{envelope_json}"),
    }
    Ok(())
}

/// Who signed and against what: shared by `verify-blob` and
/// `verify-blob-attestation` (Go cosign's flags, `--cert-*` aliases).
#[derive(clap::Args, Debug)]
pub struct VerifyFlags {
    #[arg(long = "key", env = "COSIGN_KEY")]
    pub key: Option<String>,
    #[arg(long = "bundle", env = "COSIGN_BUNDLE")]
    pub bundle: Option<String>,
    /// Without it, the trusted root comes from the TUF mirror (`initialize`).
    #[arg(long = "trusted-root", env = "COSIGN_TRUSTED_ROOT")]
    pub trusted_root: Option<String>,
    #[arg(
        long = "certificate-identity",
        alias = "cert-identity",
        env = "COSIGN_CERTIFICATE_IDENTITY"
    )]
    pub certificate_identity: Option<String>,
    #[arg(
        long = "certificate-identity-regexp",
        env = "COSIGN_CERTIFICATE_IDENTITY_REGEXP"
    )]
    pub certificate_identity_regexp: Option<String>,
    #[arg(
        long = "certificate-oidc-issuer",
        alias = "cert-oidc-issuer",
        env = "COSIGN_CERTIFICATE_OIDC_ISSUER"
    )]
    pub certificate_oidc_issuer: Option<String>,
    #[arg(
        long = "certificate-oidc-issuer-regexp",
        env = "COSIGN_CERTIFICATE_OIDC_ISSUER_REGEXP"
    )]
    pub certificate_oidc_issuer_regexp: Option<String>,
    #[arg(
        long = "certificate-github-workflow-trigger",
        env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_TRIGGER"
    )]
    pub github_workflow_trigger: Option<String>,
    #[arg(
        long = "certificate-github-workflow-sha",
        env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_SHA"
    )]
    pub github_workflow_sha: Option<String>,
    #[arg(
        long = "certificate-github-workflow-name",
        env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_NAME"
    )]
    pub github_workflow_name: Option<String>,
    #[arg(
        long = "certificate-github-workflow-repository",
        env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_REPOSITORY"
    )]
    pub github_workflow_repository: Option<String>,
    #[arg(
        long = "certificate-github-workflow-ref",
        env = "COSIGN_CERTIFICATE_GITHUB_WORKFLOW_REF"
    )]
    pub github_workflow_ref: Option<String>,
    #[arg(long = "insecure-ignore-tlog", env = "COSIGN_INSECURE_IGNORE_TLOG", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub insecure_ignore_tlog: bool,
    #[arg(long = "insecure-ignore-sct", env = "COSIGN_INSECURE_IGNORE_SCT", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub insecure_ignore_sct: bool,
    /// Require an RFC 3161 timestamp from a trusted TSA (implied upstream
    /// for bundles whose only log entries are Rekor v2).
    #[arg(long = "use-signed-timestamps", env = "COSIGN_USE_SIGNED_TIMESTAMPS", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub use_signed_timestamps: bool,
    /// Legacy: the signing certificate (PEM, or base64 of PEM as
    /// `sign-blob --output-certificate` writes it), with `--signature` and
    /// no bundle; the log entry is then looked up in `--rekor-url`.
    #[arg(long = "certificate", alias = "cert", env = "COSIGN_CERTIFICATE")]
    pub certificate: Option<String>,
    /// Legacy: intermediates then root (PEM), trusted instead of the
    /// trusted root's certificate authorities.
    #[arg(long = "certificate-chain", env = "COSIGN_CERTIFICATE_CHAIN")]
    pub certificate_chain: Option<String>,
    #[arg(long = "ca-roots", env = "COSIGN_CA_ROOTS")]
    pub ca_roots: Option<String>,
    #[arg(long = "ca-intermediates", env = "COSIGN_CA_INTERMEDIATES")]
    pub ca_intermediates: Option<String>,
    /// Where a signature without a bundle is looked up.
    #[arg(
        long = "rekor-url",
        env = "COSIGN_REKOR_URL",
        default_value = "https://rekor.sigstore.dev"
    )]
    pub rekor_url: String,
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
pub(crate) fn policy(a: &VerifyFlags) -> Result<SignerPolicy> {
    if let Some(k) = &a.key {
        if a.certificate_identity.is_some() || a.certificate_identity_regexp.is_some() {
            bail!("--key and --certificate-identity are mutually exclusive");
        }
        let pk = PublicKey::from_pem(&read_key_ref(k)?)
            .map_err(|e| anyhow!("loading public key {k}: {e}"))?;
        return Ok(SignerPolicy::Key(pk));
    }
    let subject = matcher(
        &a.certificate_identity,
        &a.certificate_identity_regexp,
        "identity",
    )?;
    let issuer = matcher(
        &a.certificate_oidc_issuer,
        &a.certificate_oidc_issuer_regexp,
        "oidc-issuer",
    )?;
    let github = [
        &a.github_workflow_trigger,
        &a.github_workflow_sha,
        &a.github_workflow_name,
        &a.github_workflow_repository,
        &a.github_workflow_ref,
    ];
    // trigger, sha, name, repository, ref: 1.3.6.1.4.1.57264.1.2 to .6
    let extensions = github
        .into_iter()
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

/// What a verification needs besides the bundle, from the flags: the bundle
/// path, the signer policy and the trusted root (in that order, so that a
/// bad flag is reported before any file is read).
struct Verification {
    path: String,
    policy: SignerPolicy,
    root: TrustedRoot,
}

/// The trusted root: `--trusted-root` (which keeps verification offline);
/// else the TUF-distributed one, refreshed from the mirror first; with the
/// legacy `SIGSTORE_*` / CA flags, those parts replaced (see [`envtrust`]).
pub(crate) fn trusted_root(a: &VerifyFlags) -> Result<TrustedRoot> {
    if let Some(p) = &a.trusted_root {
        return TrustedRoot::from_json(
            &std::fs::read(p).with_context(|| format!("reading trusted root {p}"))?,
        )
        .map_err(|e| anyhow!("trusted root {p}: {e}"));
    }
    let overrides = envtrust::Overrides::load(
        |k| std::env::var(k).ok(),
        a.certificate_chain.as_deref(),
        a.ca_roots.as_deref(),
        a.ca_intermediates.as_deref(),
    )?;
    let tuf_root = crate::tuf::tuf_root()?;
    let tuf = || -> Result<TrustedRoot> {
        let trust = crate::tuf::load(&tuf_root, OffsetDateTime::now_utc())?;
        TrustedRoot::from_json(&trust.trusted_root)
            .map_err(|e| anyhow!("trusted root from {}: {e}", trust.mirror))
    };
    if overrides.is_empty() {
        // A key without a log needs no trust material at all: no TUF lookup.
        if a.key.is_some() && a.insecure_ignore_tlog {
            return Ok(TrustedRoot::default());
        }
        return tuf();
    }
    // The parts not overridden come from TUF only if it was set up here: an
    // air-gapped legacy setup must not wait on the public mirror.
    let initialized =
        std::env::var_os("TUF_MIRROR").is_some() || tuf_root.join("remote.json").exists();
    let base = match initialized.then(tuf) {
        Some(Ok(root)) => root,
        Some(Err(e)) => {
            eprintln!("WARNING: the TUF trusted root is unavailable ({e:#}); using only the SIGSTORE_* and CA inputs");
            TrustedRoot::default()
        }
        None => TrustedRoot::default(),
    };
    overrides.apply(base, &a.rekor_url)
}

impl Verification {
    fn from_flags(a: &VerifyFlags) -> Result<Self> {
        let path = a
            .bundle
            .clone()
            .ok_or_else(|| anyhow!("--bundle is required"))?;
        Ok(Verification {
            path,
            policy: policy(a)?,
            root: trusted_root(a)?,
        })
    }

    fn bundle(&self) -> Result<Bundle> {
        read_bundle(&self.path)
    }

    fn verify(&self, a: &VerifyFlags, bundle: &Bundle, artifact: Artifact<'_>) -> Result<()> {
        let opts = Options {
            ignore_tlog: a.insecure_ignore_tlog,
            ignore_sct: a.insecure_ignore_sct,
            require_timestamp: a.use_signed_timestamps,
            now: OffsetDateTime::now_utc(),
        };
        if a.insecure_ignore_tlog {
            eprintln!("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the blob.");
        }
        verify::verify_bundle(bundle, &self.root, artifact, &self.policy, &opts)
            .map_err(|e: VerifyError| anyhow!("verifying bundle {}: {e}", self.path))?;
        Ok(())
    }
}

/// A Sigstore bundle (v0.1 to v0.3), or Go cosign's legacy bundle file,
/// detected as upstream does: the protobuf form first.
fn read_bundle(path: &str) -> Result<Bundle> {
    let bytes = std::fs::read(path).with_context(|| format!("reading bundle {path}"))?;
    match Bundle::from_json(&bytes) {
        Ok(b) => Ok(b),
        Err(e) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if crate::legacy::is_legacy(&v) => {
                Ok(crate::legacy::to_bundle(&v).map_err(|e| anyhow!("bundle {path}: {e}"))?)
            }
            _ => Err(anyhow!("bundle {path}: {e}")),
        },
    }
}

/// `verify-blob --bundle`: the blob is a file, `-`, or `sha256:<hex>`.
pub fn verify_blob(a: &VerifyFlags, blob: &str) -> Result<()> {
    let digest;
    let data;
    let artifact = match blob.strip_prefix("sha256:") {
        Some(h) => {
            digest = hex::decode(h)
                .ok()
                .filter(|d| d.len() == 32)
                .ok_or_else(|| anyhow!("{blob} is not sha256:<64 hex digits>"))?;
            Artifact::Digest(HashAlgorithm::Sha256, &digest)
        }
        None => {
            data = read_blob(blob)?;
            Artifact::Bytes(&data)
        }
    };
    let v = Verification::from_flags(a)?;
    v.verify(a, &v.bundle()?, artifact)?;
    eprintln!("Verified OK");
    Ok(())
}

/// The certificate of `--certificate`: PEM, or base64 of PEM (Go cosign's
/// `--output-certificate` default), or DER.
fn read_certificate(path: &str) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading certificate {path}"))?;
    let text = String::from_utf8_lossy(&raw);
    let pem = match STANDARD.decode(text.trim()) {
        Ok(decoded) if decoded.starts_with(b"-----BEGIN") => decoded,
        _ => raw,
    };
    if pem.starts_with(b"-----BEGIN") {
        return sigstack_core::pem::parse_labeled(&pem, "CERTIFICATE")
            .map_err(|e| anyhow!("certificate {path}: {e}"));
    }
    sigstack_core::keys::parse_certificate_der(&pem)
        .map_err(|e| anyhow!("certificate {path}: {e}"))?;
    Ok(pem)
}

/// `verify-blob --certificate C --signature S` (no bundle), the legacy
/// keyless form: the log entry is looked up in `--rekor-url` by its content
/// (unless `--insecure-ignore-tlog`), then the bundle it makes is verified
/// like any other.
pub fn verify_blob_detached(a: &VerifyFlags, signature: Option<&str>, blob: &str) -> Result<()> {
    let cert_path = a
        .certificate
        .as_deref()
        .ok_or_else(|| anyhow!("--certificate is required"))?;
    let sig_path =
        signature.ok_or_else(|| anyhow!("--signature is required with --certificate"))?;
    let policy = policy(a)?;
    let root = trusted_root(a)?;
    let leaf = read_certificate(cert_path)?;
    let text = std::fs::read_to_string(sig_path)
        .with_context(|| format!("reading signature {sig_path}"))?;
    let sig = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow!("signature {sig_path} is not base64"))?;
    let data = read_blob(blob)?;
    let digest = HashAlgorithm::Sha256.digest(&data);
    let mut entries = Vec::new();
    if a.insecure_ignore_tlog {
        eprintln!("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the blob.");
    } else {
        let leaf_pem = sigstack_core::pem::encode("CERTIFICATE", &leaf);
        let proposed = client::hashedrekord(HashAlgorithm::Sha256, &digest, &sig, &leaf_pem);
        let http = Http::new(TIMEOUT)?;
        match http.rekor_find(&a.rekor_url, &proposed)? {
            Some(entry) => entries.push(entry),
            None => bail!(
                "signature not found in transparency log {} (pass a --bundle, or --insecure-ignore-tlog=true)",
                a.rekor_url
            ),
        }
    }
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE_V0_1.into(),
        verification_material: VerificationMaterial {
            content: VerificationMaterialContent::X509CertificateChain(X509CertificateChain {
                certificates: vec![X509Certificate { raw_bytes: leaf }],
            }),
            tlog_entries: entries,
            timestamp_verification_data: None,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: HashAlgorithm::Sha256.into(),
                digest,
            }),
            signature: sig,
        }),
    };
    let opts = Options {
        ignore_tlog: a.insecure_ignore_tlog,
        ignore_sct: a.insecure_ignore_sct,
        require_timestamp: a.use_signed_timestamps,
        now: OffsetDateTime::now_utc(),
    };
    verify::verify_bundle(&bundle, &root, Artifact::Bytes(&data), &policy, &opts)
        .map_err(|e: VerifyError| anyhow!("verifying {sig_path} with {cert_path}: {e}"))?;
    eprintln!("Verified OK");
    Ok(())
}

/// `verify-blob-attestation`: the bundle verifies, a statement subject is
/// the artifact (unless `--check-claims=false`), and the predicate type is
/// the one asked for (`--type`, default `custom`, as upstream).
pub fn verify_attestation(
    a: &VerifyFlags,
    predicate_type: &str,
    digest: Option<(String, String)>,
    check_claims: bool,
    blob: Option<&str>,
) -> Result<()> {
    let want_type = predicate_type_uri(predicate_type)?;
    let raw;
    let data;
    let artifact = match (check_claims, digest, blob) {
        (false, _, _) => Artifact::Unchecked,
        (true, Some((alg, hex_digest)), _) => {
            let Some(alg) = HashAlgorithm::from_rekor_name(&alg) else {
                bail!("unsupported --digestAlg {alg:?}");
            };
            raw = hex::decode(&hex_digest)
                .ok()
                .filter(|d| d.len() == alg.digest_len())
                .ok_or_else(|| anyhow!("--digest {hex_digest:?} is not a {alg:?} hex digest"))?;
            Artifact::Digest(alg, &raw)
        }
        (true, None, Some(path)) => {
            data = read_blob(path)?;
            Artifact::Bytes(&data)
        }
        (true, None, None) => {
            bail!("a blob path or --digest is required (or --check-claims=false)")
        }
    };
    let v = Verification::from_flags(a)?;
    let bundle = v.bundle()?;
    // Checked before any cryptography, so the error says what is wrong.
    let BundleContent::DsseEnvelope(env) = &bundle.content else {
        bail!(
            "bundle {} holds a message signature, not an attestation: use verify-blob",
            v.path
        );
    };
    v.verify(a, &bundle, artifact)?;
    let stmt: Value = serde_json::from_slice(&env.payload)
        .map_err(|e| anyhow!("the attestation payload is not JSON: {e}"))?;
    let got = stmt["predicateType"].as_str().unwrap_or_default();
    if got != want_type {
        bail!("none of the attestations matched the predicate type: {want_type}, found: {got}");
    }
    eprintln!("Verified OK");
    Ok(())
}
