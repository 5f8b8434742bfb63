//! No Docker engine runs on our machines, so CI checks the deployment files
//! statically: `docker-compose.yml` parses, every service runs a binary the
//! Dockerfile installs (and the workspace builds), every bind-mounted file
//! exists, every named volume is declared, and each long-running service's
//! published port, listen flag and health check agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `[[bin]]` names of every workspace member.
fn workspace_bins() -> BTreeSet<String> {
    let ws: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let mut bins = BTreeSet::new();
    for m in ws["workspace"]["members"].as_array().unwrap() {
        let manifest = root().join(m.as_str().unwrap()).join("Cargo.toml");
        let c: toml::Value = toml::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
        for b in c
            .get("bin")
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
        {
            bins.insert(b["name"].as_str().unwrap().to_string());
        }
    }
    bins
}

/// Binaries the Dockerfile copies out of `target/release/`.
fn dockerfile_bins() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix("target/release/"))
        .map(str::to_string)
        .collect()
}

fn service_field<'a>(svc: &'a Value, key: &str) -> Option<&'a Value> {
    svc.get(key)
        .or_else(|| svc.get("<<").and_then(|m| m.get(key)))
}

/// The command as one string (exec form joined, or the `sh -c` script).
fn command_text(svc: &Value) -> String {
    match service_field(svc, "command") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

#[test]
fn compose_file_matches_the_workspace() {
    let compose: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("docker-compose.yml")).unwrap())
            .expect("docker-compose.yml parses");
    let built = workspace_bins();
    let shipped = dockerfile_bins();
    assert!(!shipped.is_empty(), "the Dockerfile copies no binaries");
    for b in &shipped {
        assert!(
            built.contains(b),
            "Dockerfile copies {b}, which no workspace crate builds"
        );
    }
    let declared: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let services = compose["services"].as_mapping().expect("services");
    assert!(services.len() >= 5);
    let mut used_bins = BTreeSet::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        let cmd = command_text(svc);
        // Every sigstack binary the command runs must be in the image.
        for b in &built {
            if cmd
                .split(|c: char| c.is_whitespace() || c == '(' || c == '&' || c == '|' || c == ';')
                .any(|w| w == b)
            {
                assert!(
                    shipped.contains(b),
                    "{name} runs {b}, which the Dockerfile does not install"
                );
                used_bins.insert(b.clone());
            }
        }
        for v in service_field(svc, "volumes")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            let spec = v.as_str().unwrap();
            let src = spec.split(':').next().unwrap();
            if src.starts_with("./") || src.starts_with('/') {
                assert!(
                    root().join(src).exists(),
                    "{name} mounts {src}, which does not exist"
                );
            } else {
                assert!(
                    declared.contains(src),
                    "{name} uses volume {src}, which is not declared"
                );
            }
        }
        let restart = service_field(svc, "restart")
            .and_then(|r| r.as_str())
            .unwrap_or("");
        if restart == "no" {
            continue; // one-shot jobs publish nothing
        }
        let ports: Vec<&str> = service_field(svc, "ports")
            .and_then(|p| p.as_sequence())
            .map(|p| p.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ports.len(), 1, "{name} publishes one port");
        let container_port = ports[0].rsplit(':').next().unwrap();
        let listens = cmd.contains(&format!("0.0.0.0:{container_port}"))
            || cmd.contains(&format!("--port {container_port}"));
        assert!(
            listens,
            "{name}: published port {container_port} is not what the command listens on: {cmd}"
        );
        let hc = service_field(svc, "healthcheck")
            .and_then(|h| h.get("test"))
            .expect("health check");
        let hc: Vec<&str> = hc
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        assert!(
            hc.iter()
                .any(|w| w.ends_with(&format!(":{container_port}/healthz"))),
            "{name}: health check {hc:?} does not probe port {container_port}"
        );
    }
    for b in [
        "oidc-dev",
        "ctlog-server",
        "rekor-server",
        "fulcio",
        "tuf-root",
    ] {
        assert!(used_bins.contains(b), "no compose service runs {b}");
    }
}
