#!/usr/bin/env python3
"""python-tuf ngclient peer for the TUF section of scripts/interop.sh (test glue).
Run with the sigstore-python venv's python (python-tuf is a dependency of sigstore).

usage:
  tuf_client.py update --metadata-dir M --url URL [--bootstrap ROOT.json]
                       [--target-dir T] [--download NAME ...]

  Updater(M, metadata_base_url=URL, target_base_url=URL + "/targets/", target_dir=T,
          bootstrap=<bytes of ROOT.json> or None) -> refresh() -> for every NAME:
  get_targetinfo + download_target (into T, as NAME). Without --bootstrap the trusted
  root is the one already in M (a client that updates from its own cache).

stdout, on success, one JSON line: the versions of the trusted top-level metadata
persisted in M ({"root": N, "timestamp": N, "snapshot": N, "targets": N}), the root
expiry, and "downloaded": {NAME: path}.

Exit status: 0 updated (and downloaded); 3 refused by a TUF rule (a
tuf.api.exceptions.RepositoryError: bad signature, hash/length mismatch, rollback,
expiry, ...); 4 a download error (HTTP status, network); 5 a target is not listed;
1 anything else. The refusal goes to stderr as "REFUSED <ExceptionClass>: <message>".

  tuf_client.py check-trust --trusted-root TR.json --signing-config SC.json
                       --fulcio-url U --fulcio-chain CHAIN.pem --rekor-url U --rekor-pub PUB.pem
                       --ctlog-url U --ctlog-pub PUB.pem --oidc-url U

  Checks what `tuf-root set-trust` built against the running services' own material:
  media types (trusted root v0.1, signing config v0.2), the Fulcio chain (intermediate
  first, root last, DER equal to CHAIN.pem), Rekor/CT log keys (DER SPKI equal to the
  PEM files, logId = sha256(SPKI), SHA2_256, PKIX_ECDSA_P256_SHA_256, validFor.start),
  base URLs, and the signing config's Fulcio/OIDC/Rekor v1 services. Exit 0 when all
  hold, else 1 with one line per mismatch on stderr.
"""
import argparse
import base64
import hashlib
import json
import re
import os
import sys
import traceback


def versions(metadata_dir):
    out = {}
    for role in ("root", "timestamp", "snapshot", "targets"):
        path = os.path.join(metadata_dir, f"{role}.json")
        try:
            with open(path, "rb") as f:
                signed = json.load(f)["signed"]
        except (OSError, ValueError, KeyError):
            out[role] = None
            continue
        out[role] = signed["version"]
        if role == "root":
            out["root_expires"] = signed.get("expires")
    return out


def update(a):
    from tuf.api import exceptions
    from tuf.ngclient import Updater

    os.makedirs(a.metadata_dir, exist_ok=True)
    target_dir = a.target_dir or os.path.join(a.metadata_dir, "..", "targets")
    os.makedirs(target_dir, exist_ok=True)
    bootstrap = None
    if a.bootstrap:
        with open(a.bootstrap, "rb") as f:
            bootstrap = f.read()
    url = a.url.rstrip("/")
    step = "refresh"
    try:
        updater = Updater(
            metadata_dir=a.metadata_dir,
            metadata_base_url=url + "/",
            target_base_url=url + "/targets/",
            target_dir=target_dir,
            bootstrap=bootstrap,
        )
        updater.refresh()
        downloaded = {}
        for name in a.download or []:
            step = f"download {name}"
            info = updater.get_targetinfo(name)
            if info is None:
                print(f"NOTLISTED {name}: not a target of the repository", file=sys.stderr)
                return 5
            downloaded[name] = updater.download_target(info, os.path.join(target_dir, name))
    except exceptions.RepositoryError as e:
        print(f"REFUSED {type(e).__name__} ({step}): {e}", file=sys.stderr)
        return 3
    except exceptions.DownloadError as e:
        print(f"DOWNLOAD {type(e).__name__} ({step}): {e}", file=sys.stderr)
        return 4
    except Exception as e:  # noqa: BLE001 - report, the harness decides
        traceback.print_exc()
        print(f"ERROR {type(e).__name__} ({step}): {e}", file=sys.stderr)
        return 1
    out = versions(a.metadata_dir)
    out["downloaded"] = downloaded
    print(json.dumps(out, sort_keys=True))
    return 0


def check_trust(a):
    from cryptography.hazmat.primitives import serialization

    def spki(path):
        key = serialization.load_pem_public_key(open(path, "rb").read())
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(b):
        return base64.b64encode(b).decode()

    bad = []

    def want(what, got, exp):
        if got != exp:
            bad.append(f"{what}: got {got!r:.200}, want {exp!r:.200}")

    tr = json.load(open(a.trusted_root))
    sc = json.load(open(a.signing_config))
    want("trusted root mediaType", tr.get("mediaType"), "application/vnd.dev.sigstore.trustedroot+json;version=0.1")
    for key in ("tlogs", "certificateAuthorities", "ctlogs"):
        if not isinstance(tr.get(key), list):
            bad.append(f"trusted root has no {key} array")
    chain = [base64.b64decode("".join(m.split())) for m in re.findall(
        r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", open(a.fulcio_chain).read(), re.S)]
    cas = tr.get("certificateAuthorities") or [{}]
    want("certificateAuthorities count", len(cas), 1)
    got_chain = [base64.b64decode(c.get("rawBytes", "")) for c in cas[0].get("certChain", {}).get("certificates", [])]
    want("Fulcio chain (DER, intermediate first, root last)", [hashlib.sha256(c).hexdigest()[:16] for c in got_chain],
         [hashlib.sha256(c).hexdigest()[:16] for c in chain])
    want("Fulcio CA uri", cas[0].get("uri"), a.fulcio_url)
    if not cas[0].get("validFor", {}).get("start"):
        bad.append("Fulcio CA has no validFor.start")
    for label in ("organization", "commonName"):
        if not cas[0].get("subject", {}).get(label):
            bad.append(f"Fulcio CA subject has no {label}")
    for name, key, url, pub in (("tlogs", "Rekor", a.rekor_url, a.rekor_pub), ("ctlogs", "CT log", a.ctlog_url, a.ctlog_pub)):
        logs = tr.get(name) or [{}]
        want(f"{name} count", len(logs), 1)
        log = logs[0]
        der = spki(pub)
        want(f"{key} baseUrl", (log.get("baseUrl") or "").rstrip("/"), url.rstrip("/"))
        want(f"{key} hashAlgorithm", log.get("hashAlgorithm"), "SHA2_256")
        pk = log.get("publicKey", {})
        want(f"{key} publicKey.rawBytes", pk.get("rawBytes"), b64(der))
        want(f"{key} publicKey.keyDetails", pk.get("keyDetails"), "PKIX_ECDSA_P256_SHA_256")
        if not pk.get("validFor", {}).get("start"):
            bad.append(f"{key} publicKey has no validFor.start")
        want(f"{key} logId.keyId", log.get("logId", {}).get("keyId"), b64(hashlib.sha256(der).digest()))
        for v02 in ("checkpointKeyId", "operator"):
            if v02 in log:
                bad.append(f"{key} has the v0.2-only field {v02} in a v0.1 trusted root")
    want("signing config mediaType", sc.get("mediaType"), "application/vnd.dev.sigstore.signingconfig.v0.2+json")
    for field, url in (("caUrls", a.fulcio_url), ("oidcUrls", a.oidc_url), ("rekorTlogUrls", a.rekor_url)):
        svcs = sc.get(field) or [{}]
        want(f"{field} count", len(svcs), 1)
        s = svcs[0]
        want(f"{field}[0].url", (s.get("url") or "").rstrip("/"), url.rstrip("/"))
        want(f"{field}[0].majorApiVersion", s.get("majorApiVersion"), 1)
        if not s.get("operator"):
            bad.append(f"{field}[0] has no operator")
        if not s.get("validFor", {}).get("start"):
            bad.append(f"{field}[0] has no validFor.start")
    if not sc.get("rekorTlogConfig", {}).get("selector"):
        bad.append("signing config has no rekorTlogConfig.selector")
    for line in bad:
        print(line, file=sys.stderr)
    if not bad:
        print("trusted root and signing config match the running services")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("update")
    u.add_argument("--metadata-dir", required=True)
    u.add_argument("--url", required=True)
    u.add_argument("--bootstrap")
    u.add_argument("--target-dir")
    u.add_argument("--download", action="append")
    c = sub.add_parser("check-trust")
    for opt in ("trusted-root", "signing-config", "fulcio-url", "fulcio-chain", "rekor-url", "rekor-pub",
                "ctlog-url", "ctlog-pub", "oidc-url"):
        c.add_argument("--" + opt, required=True)
    a = p.parse_args()
    if a.cmd == "update":
        return update(a)
    if a.cmd == "check-trust":
        return check_trust(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
