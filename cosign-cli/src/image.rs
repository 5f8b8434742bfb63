//! Container images: `cosign sign` and `cosign verify`, in the storage
//! formats Go cosign v3 uses (see the compat brief, section 3).
//!
//! * `sign` (v3 default): an in-toto Statement v1 about the image's manifest
//!   digest (predicate type `https://sigstore.dev/cosign/sign/v1`, the `-a`
//!   pairs as subject annotations), signed in DSSE and logged as a `dsse`
//!   entry; its v0.3 bundle is pushed as an OCI 1.1 referrer of the image
//!   (empty config, one bundle layer, `subject`), and recorded in the
//!   `sha256-<hex>` fallback index when the registry has no referrers API.
//! * `sign --new-bundle-format=false`: the legacy format, one
//!   more simple-signing layer in the `sha256-<hex>.sig` image, with the
//!   signature and (when logged) the Rekor bundle as annotations; what
//!   containers/image (skopeo, podman) reads with `use-sigstore-attachments`.
//! * `verify`: the referrers first (API, else the fallback index); every
//!   bundle found is verified and at least one must pass. Only when there is
//!   no bundle at all is the legacy `sha256-<hex>.sig` tag read (simple
//!   signing payloads with signature, certificate and Rekor-bundle
//!   annotations), exactly in upstream's order: a referrer that fails does
//!   not fall back to the legacy tag.
//!
//! Signatures go to the image's repository, or to `COSIGN_REPOSITORY`.

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sigstack_core::keys::HashAlgorithm;
use sigstack_core::trust::{Bundle, BundleContent, BundleVersion, BUNDLE_MEDIA_TYPE_V0_3};
use sigstack_core::verify::{self, Artifact, Options, SignerPolicy};
use time::OffsetDateTime;

use crate::blob::{Session, SigningFlags, VerifyFlags};
use crate::oci::{self, Manifest, Reference, Registry};

/// sha256 of `{}`, the OCI empty descriptor's content.
const EMPTY_CONFIG: &[u8] = b"{}";
pub const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
const LEGACY_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
const LEGACY_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
const LEGACY_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Bundles and signature payloads are small; refuse bigger blobs.
const MAX_ATTACHMENT: usize = 16 << 20;

/// Failures of the legacy path that Go cosign reports with their own exit
/// codes (`cmd/cosign/errors/exit_codes.go`; only the `.sig` path wraps
/// its errors that way, bundle verification failures exit 1 upstream too).
#[derive(Debug, thiserror::Error)]
pub enum LegacyVerifyError {
    #[error("no signatures found for {0}")]
    NoSignatures(String),
    #[error("no matching signatures: {0}")]
    NoMatching(String),
}

impl LegacyVerifyError {
    pub fn exit_code(&self) -> u8 {
        match self {
            LegacyVerifyError::NoSignatures(_) => 10,
            LegacyVerifyError::NoMatching(_) => 12,
        }
    }
}

/// Registry options shared by the image commands.
#[derive(clap::Args, Debug)]
pub struct RegistryFlags {
    /// Allow plain HTTP and unverified TLS (loopback registries always use HTTP).
    #[arg(long = "allow-insecure-registry", env = "COSIGN_ALLOW_INSECURE_REGISTRY", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub allow_insecure_registry: bool,
}

/// What `sign` and `attest` add to the registry options.
#[derive(clap::Args, Debug)]
pub struct TargetFlags {
    /// For an image index, also every manifest it lists.
    #[arg(short = 'r', long = "recursive", env = "COSIGN_RECURSIVE", default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub recursive: bool,
}

/// `-a key=value` pairs; only the first `=` splits (upstream #4957).
pub fn parse_annotations(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("annotation {p:?} is not key=value"))?;
        m.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Ok(m)
}

/// Where signatures of `image` live: its repository, or `COSIGN_REPOSITORY`.
pub(crate) fn signature_repo(image: &Reference) -> Result<Reference> {
    match std::env::var("COSIGN_REPOSITORY") {
        Ok(repo) if !repo.is_empty() => {
            let r = Reference::parse(&repo).map_err(|e| anyhow!("COSIGN_REPOSITORY: {e}"))?;
            Ok(r.with_reference("latest"))
        }
        _ => Ok(image.clone()),
    }
}

fn warn_if_tag(image: &str, r: &Reference) {
    if r.digest.is_none() {
        eprintln!(
            "WARNING: Image reference {image} uses a tag, not a digest, to identify the image to sign.\n    This can lead you to sign a different image than the intended one. Please use a\n    digest (example.com/ubuntu@sha256:abc123...) rather than tag\n    (example.com/ubuntu:latest) for the input to cosign. The ability to refer to\n    images by tag will be removed in a future release."
        );
    }
}

/// The in-toto Statement v1 `cosign sign` signs.
pub fn sign_statement(digest_hex: &str, annotations: &Map<String, Value>) -> Vec<u8> {
    let mut subject = json!({"digest": {"sha256": digest_hex}});
    if !annotations.is_empty() {
        subject["annotations"] = Value::Object(annotations.clone());
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [subject],
        "predicateType": SIGN_PREDICATE_TYPE,
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

fn rfc3339_now() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Pushes `bundle` as a referrer of `subject` (v3 storage) into `repo`.
fn push_bundle_referrer(
    reg: &Registry,
    repo: &Reference,
    subject: &Manifest,
    bundle: &[u8],
    predicate_type: &str,
) -> Result<String> {
    let config = reg.push_blob(repo, EMPTY_CONFIG)?;
    let layer = reg.push_blob(repo, bundle)?;
    // Go's field order: the manifest's own fields, then artifactType.
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_MANIFEST,
        "config": {"mediaType": oci::OCI_EMPTY, "size": EMPTY_CONFIG.len(), "digest": config,
                   "artifactType": BUNDLE_MEDIA_TYPE_V0_3},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE_V0_3, "size": bundle.len(), "digest": layer}],
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": predicate_type,
            "org.opencontainers.image.created": rfc3339_now(),
        },
        "subject": subject.descriptor(),
        "artifactType": BUNDLE_MEDIA_TYPE_V0_3,
    });
    let bytes = serde_json::to_vec(&manifest)?;
    let digest = oci::digest_of(&bytes);
    reg.put_manifest(repo, &digest, &bytes, oci::OCI_MANIFEST)?;
    // The fallback index carries the config media type as artifactType
    // (go-containerregistry's behaviour, which upstream readers expect).
    reg.add_fallback_referrer(
        repo,
        &subject.digest,
        json!({"mediaType": oci::OCI_MANIFEST, "digest": digest, "size": bytes.len(),
               "artifactType": oci::OCI_EMPTY}),
    )?;
    Ok(digest)
}

/// The simple signing payload of the legacy format, as Go marshals it
/// (struct field order; `optional` is `null` without annotations, else
/// the pairs with sorted keys).
pub fn simple_signing_payload(
    image: &Reference,
    digest: &str,
    annotations: &Map<String, Value>,
) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        Value::Null
    } else {
        let sorted: std::collections::BTreeMap<&String, &Value> = annotations.iter().collect();
        json!(sorted)
    };
    simple_signing(&image.name(), digest, SIMPLE_SIGNING_TYPE, optional)
        .to_string()
        .into_bytes()
}

/// The RFC 3161 timestamp annotation: `{"SignedRFC3161Timestamp": b64 DER}`
/// (Go cosign's `bundle.RFC3161Timestamp`, no JSON tags either).
const LEGACY_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// The legacy layer annotations for what vouches for a signature: the
/// first log entry as the Rekor bundle, the first timestamp.
fn legacy_witness_annotations(ann: &mut Value, w: &crate::blob::Witnesses) {
    if let Some(e) = w.entries.first() {
        ann[LEGACY_BUNDLE] = Value::String(rekor_bundle_annotation(e));
    }
    if let Some(t) = w.timestamps.first() {
        ann[LEGACY_RFC3161] =
            Value::String(json!({ "SignedRFC3161Timestamp": STANDARD.encode(t) }).to_string());
    }
}

/// Puts a layer's RFC 3161 timestamp annotation, if any, into `b`.
fn add_legacy_timestamp(b: &mut sigstack_core::trust::Bundle, ann: &Value) -> Result<()> {
    let Some(text) = ann[LEGACY_RFC3161].as_str() else {
        return Ok(());
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("the RFC 3161 timestamp annotation is not JSON: {e}"))?;
    let der = v["SignedRFC3161Timestamp"]
        .as_str()
        .and_then(|t| STANDARD.decode(t).ok())
        .ok_or_else(|| {
            anyhow!("the RFC 3161 timestamp annotation has no base64 SignedRFC3161Timestamp")
        })?;
    b.verification_material.timestamp_verification_data =
        Some(sigstack_core::trust::TimestampVerificationData {
            rfc3161_timestamps: vec![sigstack_core::trust::Rfc3161SignedTimestamp {
                signed_timestamp: der,
            }],
        });
    Ok(())
}

/// The `dev.sigstore.cosign/bundle` annotation: Go's `RekorBundle`
/// (capitalised outer fields: the struct has no JSON tags).
fn rekor_bundle_annotation(e: &sigstack_core::trust::TransparencyLogEntry) -> String {
    let set = e
        .inclusion_promise
        .as_ref()
        .map(|p| STANDARD.encode(&p.signed_entry_timestamp))
        .unwrap_or_default();
    json!({
        "SignedEntryTimestamp": set,
        "Payload": {
            "body": STANDARD.encode(&e.canonicalized_body),
            "integratedTime": e.integrated_time,
            "logIndex": e.log_index,
            "logID": hex::encode(&e.log_id.key_id),
        },
    })
    .to_string()
}

/// Appends one layer to the `sha256-<hex>.<suffix>` image of `subject`
/// (created if missing) in `repo`; returns the tag.
/// The legacy attachment kinds: tag suffix and layer media type.
const LEGACY_SIG: (&str, &str) = ("sig", "application/vnd.dev.cosign.simplesigning.v1+json");
const LEGACY_ATT: (&str, &str) = ("att", "application/vnd.dsse.envelope.v1+json");

fn push_legacy_layer(
    reg: &Registry,
    repo: &Reference,
    subject: &str,
    (suffix, media_type): (&str, &str),
    payload: &[u8],
    annotations: Value,
) -> Result<String> {
    let tag = oci::attachment_tag(subject, suffix);
    let mut layers = match reg.get_manifest(&repo.with_reference(&tag))? {
        Some(m) => m.json()?["layers"].as_array().cloned().unwrap_or_default(),
        None => Vec::new(),
    };
    if layers.len() >= 1000 {
        bail!("{}:{tag} already holds 1000 layers", repo.name());
    }
    let payload_digest = reg.push_blob(repo, payload)?;
    layers.push(json!({"mediaType": media_type, "size": payload.len(),
        "digest": payload_digest, "annotations": annotations}));
    // go-containerregistry's config for an image built from empty.Image:
    // one history entry and one diff ID (the uncompressed layer) per layer.
    let diff_ids: Vec<Value> = layers.iter().map(|l| l["digest"].clone()).collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|_| json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "", "created": "0001-01-01T00:00:00Z", "history": history, "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {},
    }))?;
    let config_digest = reg.push_blob(repo, &config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
        "layers": layers,
    });
    reg.put_manifest(
        repo,
        &tag,
        &serde_json::to_vec(&manifest)?,
        oci::OCI_MANIFEST,
    )?;
    Ok(tag)
}

/// Resolves every image before anything is signed or pushed (a bad
/// reference or a missing image stops the command with nothing written).
/// With `recursive`, an image index is followed too: the index and every
/// manifest it lists (nested indexes included), as Go cosign's `-r`; a
/// listed manifest that the registry does not have stops the command.
fn resolve_all(
    reg: &Registry,
    images: &[String],
    recursive: bool,
) -> Result<Vec<(Reference, Manifest)>> {
    if images.is_empty() {
        bail!("at least one image reference is required");
    }
    let mut targets = Vec::new();
    for image in images {
        let r = Reference::parse(image)?;
        warn_if_tag(image, &r);
        let m = reg.resolve(&r)?;
        let mut pending = vec![(r, m)];
        while let Some((r, m)) = pending.pop() {
            if recursive && matches!(m.media_type.as_str(), oci::OCI_INDEX | oci::DOCKER_LIST) {
                for child in m.json()?["manifests"].as_array().into_iter().flatten() {
                    let d = child["digest"].as_str().ok_or_else(|| {
                        anyhow!("index {} lists a manifest without a digest", m.digest)
                    })?;
                    let cr = r.with_reference(d);
                    let cm = reg.resolve(&cr).with_context(|| {
                        format!(
                            "index {} lists {d}, which the registry does not have",
                            m.digest
                        )
                    })?;
                    pending.push((cr, cm));
                }
            }
            if targets.len() >= 1024 {
                bail!("more than 1024 manifests under {image}");
            }
            targets.push((r, m));
        }
    }
    Ok(targets)
}

/// Signs `statement` (DSSE, logged), writes the bundle to `--bundle` if
/// asked, and pushes it as a referrer of `m` in `repo`; returns the pushed
/// manifest digest.
fn publish_statement(
    s: &Session,
    a: &SigningFlags,
    reg: &Registry,
    repo: &Reference,
    m: &Manifest,
    statement: Vec<u8>,
    predicate_type: &str,
) -> Result<String> {
    let (envelope, _, witnesses) = s.sign_statement(statement)?;
    let bundle = serde_json::to_vec(&s.bundle(witnesses, BundleContent::DsseEnvelope(envelope)))?;
    if let Some(path) = &a.bundle {
        crate::cli::write_file(std::path::Path::new(path), &bundle, 0o644)?;
    }
    push_bundle_referrer(reg, repo, m, &bundle, predicate_type)
        .with_context(|| format!("pushing to {} as a referrer of {}", repo.name(), m.digest))
}

/// `cosign sign IMAGE...`.
pub fn sign(
    a: &SigningFlags,
    rf: &RegistryFlags,
    tf: &TargetFlags,
    annotations: &[String],
    images: &[String],
) -> Result<()> {
    let annotations = parse_annotations(annotations)?;
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let targets = resolve_all(&reg, images, tf.recursive)?;
    let s = Session::open(a)?;
    for (r, m) in targets {
        let repo = signature_repo(&r)?;
        if !a.new_bundle_format {
            let payload = simple_signing_payload(&r, &m.digest, &annotations);
            let signed = s.sign_message(&payload)?;
            let mut ann = json!({ LEGACY_SIGNATURE: STANDARD.encode(&signed.signature) });
            for (k, v) in s.legacy_certificate_annotations() {
                ann[k] = Value::String(v);
            }
            legacy_witness_annotations(&mut ann, &signed.witnesses);
            let tag = push_legacy_layer(&reg, &repo, &m.digest, LEGACY_SIG, &payload, ann)
                .with_context(|| format!("pushing the signature of {}@{}", r.name(), m.digest))?;
            eprintln!("Pushing signature to: {}:{tag}", repo.name());
            continue;
        }
        let stmt = sign_statement(m.digest.trim_start_matches("sha256:"), &annotations);
        let pushed = publish_statement(&s, a, &reg, &repo, &m, stmt, SIGN_PREDICATE_TYPE)?;
        eprintln!("Pushing signature to: {}@{pushed}", repo.name());
    }
    Ok(())
}

/// `cosign attest --predicate FILE --type T IMAGE...`: an in-toto Statement
/// v0.1 about each image's manifest digest (subject name = the repository,
/// as cosign writes it), signed in DSSE, logged, and pushed as a bundle
/// referrer annotated with the predicate type.
pub fn attest(
    a: &SigningFlags,
    rf: &RegistryFlags,
    tf: &TargetFlags,
    predicate_path: &str,
    predicate_type: &str,
    images: &[String],
) -> Result<()> {
    let (uri, predicate) = crate::blob::predicate(predicate_path, predicate_type)?;
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let targets = resolve_all(&reg, images, tf.recursive)?;
    let s = Session::open(a)?;
    for (r, m) in targets {
        let hex_digest = m.digest.trim_start_matches("sha256:");
        let stmt = crate::blob::intoto_v01(&uri, &r.name(), hex_digest, predicate.clone());
        let repo = signature_repo(&r)?;
        if !a.new_bundle_format {
            // The legacy .att layer: the envelope JSON exactly as logged.
            let (_, envelope_json, witnesses) = s.sign_statement(stmt)?;
            let mut ann = json!({"predicateType": uri, LEGACY_SIGNATURE: ""});
            for (k, v) in s.legacy_certificate_annotations() {
                ann[k] = Value::String(v);
            }
            legacy_witness_annotations(&mut ann, &witnesses);
            let tag = push_legacy_layer(
                &reg,
                &repo,
                &m.digest,
                LEGACY_ATT,
                envelope_json.as_bytes(),
                ann,
            )
            .with_context(|| format!("pushing the attestation of {}@{}", r.name(), m.digest))?;
            eprintln!("Pushing attestation to: {}:{tag}", repo.name());
            continue;
        }
        let pushed = publish_statement(&s, a, &reg, &repo, &m, stmt, &uri)?;
        eprintln!("Pushing attestation to: {}@{pushed}", repo.name());
    }
    Ok(())
}

/// The legacy `.att` layers as DSSE bundles (the Rekor bundle annotation
/// as the log entry; unlogged ones only with the tlog check off).
fn legacy_attestations(
    reg: &Registry,
    repo: &Reference,
    image: &Reference,
    digest: &str,
    c: &Checks,
) -> Result<Vec<Bundle>> {
    let tag = oci::attachment_tag(digest, LEGACY_ATT.0);
    let Some(m) = reg.get_manifest(&repo.with_reference(&tag))? else {
        return Err(LegacyVerifyError::NoSignatures(format!("{}@{digest}", image.name())).into());
    };
    let mut out = Vec::new();
    for layer in m.json()?["layers"].as_array().into_iter().flatten() {
        let Some(ld) = layer["digest"].as_str() else {
            continue;
        };
        let envelope = reg.get_blob(repo, ld, MAX_ATTACHMENT)?;
        let ann = &layer["annotations"];
        let Some(cert_pem) = legacy_verifier_pem(ann, &c.policy) else {
            continue;
        };
        let rekor_bundle: Option<Value> = ann[LEGACY_BUNDLE]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok());
        if rekor_bundle.is_none() && !c.opts.ignore_tlog {
            continue;
        }
        let mut b = crate::legacy::dsse_to_bundle(
            &envelope,
            &STANDARD.encode(cert_pem.as_bytes()),
            rekor_bundle.as_ref(),
        )?;
        if c.opts.ignore_tlog {
            b.verification_material.tlog_entries.clear();
        }
        add_legacy_timestamp(&mut b, ann)?;
        out.push(b);
    }
    Ok(out)
}

/// `cosign verify-attestation --type T IMAGE...`: every bundle referrer is
/// verified against the manifest digest (the statement subject must be the
/// image); those whose predicate type is T are printed, one DSSE envelope
/// JSON per line. At least one must match (`--type` defaults to custom).
pub fn verify_attestation(
    a: &VerifyFlags,
    rf: &RegistryFlags,
    predicate_type: &str,
    images: &[String],
) -> Result<()> {
    let want = crate::blob::predicate_type_uri(predicate_type)?;
    let c = Checks::from_flags(a, &[])?;
    let reg = Registry::new(rf.allow_insecure_registry)?;
    for image in images {
        let r = Reference::parse(image)?;
        let m = reg.resolve(&r)?;
        let repo = signature_repo(&r)?;
        let digest_bytes = hex::decode(m.digest.trim_start_matches("sha256:"))?;
        let mut bundles = referrer_bundles(&reg, &repo, &m.digest)?;
        if bundles.is_empty() {
            bundles = legacy_attestations(&reg, &repo, &r, &m.digest, &c)?;
        }
        let mut matched = Vec::new();
        let mut verified_any = false;
        let mut last_err = String::from("no attestation bundle");
        for b in &bundles {
            let BundleContent::DsseEnvelope(env) = &b.content else {
                continue;
            };
            let artifact = Artifact::Digest(HashAlgorithm::Sha256, &digest_bytes);
            if let Err(e) = verify::verify_bundle(b, &c.root, artifact, &c.policy, &c.opts) {
                last_err = e.to_string();
                continue;
            }
            verified_any = true;
            let stmt: Value = serde_json::from_slice(&env.payload)?;
            if stmt["predicateType"].as_str() == Some(want.as_str()) {
                matched.push(serde_json::to_string(env)?);
            }
        }
        if matched.is_empty() {
            // Say the type did not match only when some bundle verified.
            if verified_any {
                bail!("none of the attestations matched the predicate type: {want}");
            }
            bail!("no matching attestations: {last_err}");
        }
        eprintln!("\nVerification for {r} --");
        eprintln!("The following checks were performed on each of these signatures:");
        eprintln!("  - The cosign claims were validated");
        for line in matched {
            println!("{line}");
        }
    }
    Ok(())
}

/// The simple signing shape: what the legacy format signs, and what
/// `cosign verify` prints for every verified signature.
fn simple_signing(docker_reference: &str, digest: &str, kind: &str, optional: Value) -> Value {
    json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": kind,
        },
        "optional": optional,
    })
}

/// One verified signature, as `cosign verify` prints it (the reference as
/// go-containerregistry names it: with its tag or digest).
fn output_item(image: &Reference, digest: &str, kind: &str, optional: Value) -> Value {
    simple_signing(&image.to_string(), digest, kind, optional)
}

/// The `-a` pairs must all be in `found` (the signed annotations).
fn annotations_match(want: &Map<String, Value>, found: &Value) -> bool {
    want.iter().all(|(k, v)| found.get(k) == Some(v))
}

/// The v3 bundles referring to `digest` (empty: none stored that way).
fn referrer_bundles(reg: &Registry, repo: &Reference, digest: &str) -> Result<Vec<Bundle>> {
    let mut out = Vec::new();
    for (md, mj) in reg.referrer_manifests(repo, digest)? {
        let layers: Vec<&Value> = mj["layers"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|l| {
                        l["mediaType"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Exactly one bundle layer, or this referrer is something else.
        let [layer] = layers.as_slice() else { continue };
        let Some(ld) = layer["digest"].as_str() else {
            continue;
        };
        let blob = reg.get_blob(repo, ld, MAX_ATTACHMENT)?;
        let bundle = Bundle::from_json(&blob)
            .map_err(|e| anyhow!("the referrer {md} of {digest} holds an invalid bundle: {e}"))?;
        if bundle.version()? != BundleVersion::V0_3 {
            bail!("the referrer {md} of {digest} holds a bundle older than v0.3");
        }
        out.push(bundle);
    }
    Ok(out)
}

/// The verifier of a legacy layer: its certificate annotation, else the
/// `--key` (key-signed layers carry none).
fn legacy_verifier_pem(annotations: &Value, policy: &SignerPolicy) -> Option<String> {
    match (annotations[LEGACY_CERTIFICATE].as_str(), policy) {
        (Some(pem), _) if !pem.is_empty() => Some(pem.to_owned()),
        (_, SignerPolicy::Key(k)) => Some(k.to_pem()),
        _ => None,
    }
}

/// What every signature of a `verify` run is checked against.
struct Checks {
    policy: SignerPolicy,
    root: sigstack_core::trust::TrustedRoot,
    opts: Options,
    /// The `-a` pairs that must be signed.
    annotations: Map<String, Value>,
}

impl Checks {
    fn from_flags(a: &VerifyFlags, annotations: &[String]) -> Result<Self> {
        Ok(Checks {
            annotations: parse_annotations(annotations)?,
            policy: crate::blob::policy(a)?,
            root: crate::blob::trusted_root(a)?,
            opts: Options {
                ignore_tlog: a.insecure_ignore_tlog,
                ignore_sct: a.insecure_ignore_sct,
                require_timestamp: a.use_signed_timestamps,
                now: OffsetDateTime::now_utc(),
            },
        })
    }
}

/// The legacy `.sig` signatures: each layer's payload turned into a
/// message-signature bundle with its Rekor bundle (as the legacy bundle
/// file), then the simple-signing claims checked.
fn verify_legacy(
    reg: &Registry,
    repo: &Reference,
    image: &Reference,
    digest: &str,
    c: &Checks,
) -> Result<Vec<Value>> {
    let (policy, root, opts) = (&c.policy, &c.root, &c.opts);
    let tag = oci::attachment_tag(digest, "sig");
    let Some(m) = reg.get_manifest(&repo.with_reference(&tag))? else {
        return Err(LegacyVerifyError::NoSignatures(format!("{}@{digest}", image.name())).into());
    };
    let mj = m.json()?;
    let layers = mj["layers"].as_array().cloned().unwrap_or_default();
    let mut verified = Vec::new();
    let mut last_err = String::from("no signature layer");
    for layer in layers {
        let result = (|| -> Result<Value> {
            let ann = &layer["annotations"];
            let ld = layer["digest"]
                .as_str()
                .ok_or_else(|| anyhow!("a layer has no digest"))?;
            let payload = reg.get_blob(repo, ld, MAX_ATTACHMENT)?;
            let sig = ann[LEGACY_SIGNATURE]
                .as_str()
                .ok_or_else(|| anyhow!("layer {ld} has no signature annotation"))?;
            let cert_pem = legacy_verifier_pem(ann, policy)
                .ok_or_else(|| anyhow!("layer {ld} has no certificate, and no --key was given"))?;
            let rekor_bundle: Value = match ann[LEGACY_BUNDLE].as_str() {
                Some(b) => serde_json::from_str(b)
                    .map_err(|e| anyhow!("layer {ld}: the bundle annotation is not JSON: {e}"))?,
                None => Value::Null,
            };
            let mut legacy = json!({
                "base64Signature": sig,
                "cert": STANDARD.encode(cert_pem.as_bytes()),
            });
            if !rekor_bundle.is_null() {
                legacy["rekorBundle"] = rekor_bundle;
            }
            let mut bundle = if legacy.get("rekorBundle").is_some() {
                let mut b = crate::legacy::to_bundle(&legacy)?;
                if opts.ignore_tlog {
                    b.verification_material.tlog_entries.clear();
                }
                b
            } else if opts.ignore_tlog {
                crate::legacy::to_unlogged_bundle(
                    &legacy,
                    HashAlgorithm::Sha256.into(),
                    HashAlgorithm::Sha256.digest(&payload),
                )?
            } else {
                bail!("layer {ld} has no Rekor bundle: the signature was never logged (--insecure-ignore-tlog=true accepts that)");
            };
            add_legacy_timestamp(&mut bundle, ann)?;
            verify::verify_bundle(&bundle, root, Artifact::Bytes(&payload), policy, opts)?;
            let p: Value = serde_json::from_slice(&payload)
                .map_err(|e| anyhow!("layer {ld}: the payload is not JSON: {e}"))?;
            if p["critical"]["image"]["docker-manifest-digest"].as_str() != Some(digest) {
                bail!("layer {ld}: the payload is for another image digest");
            }
            if p["critical"]["type"].as_str() != Some(SIMPLE_SIGNING_TYPE) {
                bail!("layer {ld}: the payload is not a cosign container image signature");
            }
            if !annotations_match(&c.annotations, &p["optional"]) {
                bail!("layer {ld}: missing or incorrect annotation");
            }
            Ok(output_item(
                image,
                digest,
                SIMPLE_SIGNING_TYPE,
                p["optional"].clone(),
            ))
        })();
        match result {
            Ok(item) => verified.push(item),
            Err(e) => last_err = format!("{e:#}"),
        }
    }
    if verified.is_empty() {
        return Err(LegacyVerifyError::NoMatching(last_err).into());
    }
    Ok(verified)
}

/// `cosign verify IMAGE...`.
pub fn verify(
    a: &VerifyFlags,
    rf: &RegistryFlags,
    annotations: &[String],
    output: &str,
    images: &[String],
) -> Result<()> {
    if images.is_empty() {
        bail!("at least one image reference is required");
    }
    let c = Checks::from_flags(a, annotations)?;
    let reg = Registry::new(rf.allow_insecure_registry)?;
    for image in images {
        let r = Reference::parse(image)?;
        let m = reg.resolve(&r)?;
        let repo = signature_repo(&r)?;
        let digest_bytes = hex::decode(m.digest.trim_start_matches("sha256:"))?;
        let bundles = referrer_bundles(&reg, &repo, &m.digest)?;
        let verified = if bundles.is_empty() {
            verify_legacy(&reg, &repo, &r, &m.digest, &c)?
        } else {
            let mut ok = Vec::new();
            let mut last_err = String::new();
            for b in &bundles {
                let artifact = Artifact::Digest(HashAlgorithm::Sha256, &digest_bytes);
                let result = verify::verify_bundle(b, &c.root, artifact, &c.policy, &c.opts)
                    .map_err(|e| anyhow!("{e}"))
                    .and_then(|_| {
                        let BundleContent::DsseEnvelope(env) = &b.content else {
                            bail!("a message-signature bundle cannot sign an image");
                        };
                        let stmt: Value = serde_json::from_slice(&env.payload)?;
                        let found = match &stmt["subject"][0]["annotations"] {
                            Value::Null => json!({}),
                            a => a.clone(),
                        };
                        if !annotations_match(&c.annotations, &found) {
                            bail!("missing or incorrect annotation");
                        }
                        let kind = stmt["predicateType"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        Ok(output_item(&r, &m.digest, &kind, found))
                    });
                match result {
                    Ok(item) => ok.push(item),
                    Err(e) => last_err = format!("{e:#}"),
                }
            }
            if ok.is_empty() {
                bail!("no matching signatures: {last_err}");
            }
            ok
        };
        eprintln!("\nVerification for {} --", r);
        eprintln!("The following checks were performed on each of these signatures:");
        eprintln!("  - The cosign claims were validated");
        if !a.insecure_ignore_tlog {
            eprintln!("  - Existence of the claims in the transparency log was verified offline");
        }
        match &c.policy {
            SignerPolicy::Key(_) => {
                eprintln!("  - The signatures were verified against the specified public key")
            }
            _ => eprintln!("  - The code-signing certificate was verified using trusted certificate authority certificates"),
        }
        match output {
            "text" => {
                for v in &verified {
                    println!("{v}");
                }
            }
            _ => println!("\n{}", serde_json::to_string(&verified)?),
        }
    }
    Ok(())
}
