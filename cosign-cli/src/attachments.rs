//! Looking at what is attached to an image, without verifying it:
//! `triangulate` (where the legacy attachments live), `tree` (the legacy
//! `.sig`/`.att`/`.sbom` tags and the OCI 1.1 referrers, with their layers)
//! and `download signature|attestation` (the stored bundles, one JSON per
//! line; else the legacy records); and managing them: `clean` (delete) and
//! `login` (registry credentials in Docker's `config.json`).

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::image::RegistryFlags;
use crate::oci::{self, Reference, Registry};

/// The legacy tag suffix of an attachment type.
fn suffix(kind: &str) -> Result<&'static str> {
    Ok(match kind {
        "signature" => "sig",
        "attestation" => "att",
        "sbom" => "sbom",
        other => bail!("invalid --type {other:?}: signature, attestation, sbom or digest"),
    })
}

/// `cosign triangulate [--type signature|attestation|sbom|digest] IMAGE`.
pub fn triangulate(rf: &RegistryFlags, kind: &str, image: &str) -> Result<()> {
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let r = Reference::parse(image)?;
    let m = reg.resolve(&r)?;
    if kind == "digest" {
        println!("{}@{}", r.name(), m.digest);
        return Ok(());
    }
    let repo = crate::image::signature_repo(&r)?;
    println!(
        "{}:{}",
        repo.name(),
        oci::attachment_tag(&m.digest, suffix(kind)?)
    );
    Ok(())
}

fn layer_lines(layers: &[Value]) -> Vec<String> {
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let sym = if i + 1 == layers.len() {
                "   └──"
            } else {
                "   ├──"
            };
            format!("{sym} 🍒 {}", l["digest"].as_str().unwrap_or("?"))
        })
        .collect()
}

/// `cosign tree IMAGE`: Go cosign's layout (the legacy tags, then each
/// referrer under its bundle predicate type or artifact type). Go shows
/// referrers only in its OCI 1.1 mode; here they are always listed, since
/// that is where v3 signatures live.
pub fn tree(rf: &RegistryFlags, image: &str) -> Result<()> {
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let r = Reference::parse(image)?;
    let m = reg.resolve(&r)?;
    let repo = crate::image::signature_repo(&r)?;
    println!("📦 Supply Chain Security Related artifacts for an image: {r}");
    let mut found = false;
    for (kind, title) in [
        ("att", "💾 Attestations"),
        ("sig", "🔐 Signatures"),
        ("sbom", "📦 SBOMs"),
    ] {
        let tag = oci::attachment_tag(&m.digest, kind);
        let Some(att) = reg.get_manifest(&repo.with_reference(&tag))? else {
            continue;
        };
        let layers = att.json()?["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if layers.is_empty() {
            continue;
        }
        found = true;
        println!("└── {title} for an image tag: {}:{tag}", repo.name());
        for line in layer_lines(&layers) {
            println!("{line}");
        }
    }
    for (digest, mj) in reg.referrer_manifests(&repo, &m.digest)? {
        let kind = mj["annotations"]["dev.sigstore.bundle.predicateType"]
            .as_str()
            .or_else(|| mj["artifactType"].as_str())
            .unwrap_or("unknown")
            .to_owned();
        found = true;
        println!(
            "└── 🔗 {kind} artifacts via OCI referrer: {}@{digest}",
            repo.name()
        );
        let layers = mj["layers"].as_array().cloned().unwrap_or_default();
        for line in layer_lines(&layers) {
            println!("{line}");
        }
    }
    if !found {
        println!("No Supply Chain Security Related Artifacts found for image {r},\n start creating one with simply running$ cosign sign <img>");
    }
    Ok(())
}

/// `cosign download signature|attestation IMAGE`: the bundles stored as
/// referrers (signatures: all of them; attestations: those whose predicate
/// type is `predicate_type`, if given), one JSON per line; without any,
/// the legacy `.sig`/`.att` layers as records of the signature, payload and
/// Rekor bundle.
pub fn download(
    rf: &RegistryFlags,
    what: &str,
    predicate_type: Option<&str>,
    image: &str,
) -> Result<()> {
    const MAX: usize = 16 << 20;
    let sfx = suffix(what)?;
    if sfx == "sbom" {
        bail!("download sbom is deprecated upstream and not supported by this client");
    }
    let want = predicate_type
        .map(crate::blob::predicate_type_uri)
        .transpose()?;
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let r = Reference::parse(image)?;
    let m = reg.resolve(&r)?;
    let repo = crate::image::signature_repo(&r)?;
    // Any bundle referrer means the new format: no fall-back to the legacy
    // tags, even when the predicate filter leaves nothing to print.
    let mut bundles = 0;
    for (_, mj) in reg.referrer_manifests(&repo, &m.digest)? {
        let kind = mj["annotations"]["dev.sigstore.bundle.predicateType"].as_str();
        let is_bundle = mj["layers"].as_array().into_iter().flatten().any(|l| {
            l["mediaType"]
                .as_str()
                .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
        });
        if !is_bundle {
            continue;
        }
        bundles += 1;
        let is_signature = kind == Some(crate::image::SIGN_PREDICATE_TYPE);
        let keep = match (sfx, &want) {
            ("sig", _) => true,
            (_, Some(w)) => kind == Some(w.as_str()),
            _ => !is_signature,
        };
        if !keep {
            continue;
        }
        for l in mj["layers"].as_array().into_iter().flatten() {
            let media = l["mediaType"].as_str().unwrap_or("");
            if !media.starts_with("application/vnd.dev.sigstore.bundle") {
                continue;
            }
            let Some(ld) = l["digest"].as_str() else {
                continue;
            };
            let blob = reg.get_blob(&repo, ld, MAX)?;
            let v: Value = serde_json::from_slice(&blob)?;
            println!("{v}");
        }
    }
    if bundles > 0 {
        return Ok(());
    }
    let tag = oci::attachment_tag(&m.digest, sfx);
    let Some(att) = reg.get_manifest(&repo.with_reference(&tag))? else {
        return Err(crate::image::LegacyVerifyError::NoSignatures(format!(
            "{}@{}",
            r.name(),
            m.digest
        ))
        .into());
    };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for l in att.json()?["layers"].as_array().into_iter().flatten() {
        let Some(ld) = l["digest"].as_str() else {
            continue;
        };
        let payload = reg.get_blob(&repo, ld, MAX)?;
        let ann = &l["annotations"];
        let bundle: Value = ann["dev.sigstore.cosign/bundle"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        println!(
            "{}",
            json!({
                "Base64Signature": ann["dev.cosignproject.cosign/signature"].as_str().unwrap_or(""),
                "Payload": b64.encode(&payload),
                "Cert": ann["dev.sigstore.cosign/certificate"].as_str(),
                "Chain": ann["dev.sigstore.cosign/chain"].as_str(),
                "Bundle": bundle,
            })
        );
    }
    Ok(())
}

/// `cosign clean [--type signature|attestation|sbom|referrer|all] [-f] IMAGE`:
/// deletes the legacy attachment images and (referrer, all) the referrer
/// manifests and the fallback index. Registries delete by digest, and must
/// allow deletes (distribution: `storage.delete.enabled`).
pub fn clean(rf: &RegistryFlags, kind: &str, force: bool, image: &str) -> Result<()> {
    let tags: &[&str] = match kind {
        "signature" => &["sig"],
        "attestation" => &["att"],
        "sbom" => &["sbom"],
        "referrer" => &[],
        "all" => &["sig", "att", "sbom"],
        other => bail!("invalid --type {other:?}: signature, attestation, sbom, referrer or all"),
    };
    let referrers = matches!(kind, "referrer" | "all");
    let reg = Registry::new(rf.allow_insecure_registry)?;
    let r = Reference::parse(image)?;
    let m = reg.resolve(&r)?;
    let repo = crate::image::signature_repo(&r)?;
    if !force {
        eprint!("WARNING: this will remove all {kind} attachments from {r}\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not confirmed: nothing deleted (pass -f to skip the question)");
        }
    }
    let mut deleted = 0;
    for sfx in tags {
        if let Some(att) =
            reg.get_manifest(&repo.with_reference(&oci::attachment_tag(&m.digest, sfx)))?
        {
            deleted += usize::from(reg.delete_manifest(&repo, &att.digest)?);
        }
    }
    if referrers {
        for (digest, _) in reg.referrer_manifests(&repo, &m.digest)? {
            deleted += usize::from(reg.delete_manifest(&repo, &digest)?);
        }
        if let Some(index) =
            reg.get_manifest(&repo.with_reference(&oci::attachment_tag(&m.digest, "")))?
        {
            deleted += usize::from(reg.delete_manifest(&repo, &index.digest)?);
        }
    }
    eprintln!(
        "Removed {deleted} manifest(s) attached to {}@{}",
        r.name(),
        m.digest
    );
    Ok(())
}

/// `cosign login REGISTRY -u USER (-p PASSWORD | --password-stdin)`: the
/// credentials go into Docker's `config.json` (0600), which the registry
/// client reads, as crane's `auth login` does.
pub fn login(
    registry: &str,
    user: &str,
    password: Option<&str>,
    password_stdin: bool,
) -> Result<()> {
    let password = match (password, password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.to_owned(),
        (None, true) => {
            let mut p = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut p)?;
            p.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => bail!("a password is required: --password or --password-stdin"),
    };
    let host = Reference::parse(&format!("{registry}/x"))?.registry;
    let path = oci::docker_config_path()
        .ok_or_else(|| anyhow::anyhow!("neither DOCKER_CONFIG nor HOME is set"))?;
    let existing = std::fs::read(&path).ok();
    let updated = oci::with_credentials(existing.as_deref(), &host, user, &password)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::cli::write_file(&path, &updated, 0o600)?;
    eprintln!("logged in via {}", path.display());
    Ok(())
}
