#!/usr/bin/env python3
"""Independent verifier for our Rekor v1 log, built on sigstore-python's own code.

Run it with the interpreter of the venv that scripts/interop.sh creates (pinned
`sigstore` 4.x).  Everything that sigstore-python itself does to a Rekor v1
response is done here with sigstore-python's functions, not re-implementations:

* `sigstore._internal.rekor.client.RekorClient`: POST/GET of entries, the
  `/entries/retrieve/` search (with its trailing slash), `log.get()`;
* `sigstore.models.TransparencyLogEntry._from_v1_response`: parsing of a
  `{entryID: LogEntry}` map (one key, body must be hashedrekord/dsse);
* `TransparencyLogEntry._verify` / `_verify_set`: inclusion proof
  (`sigstore._internal.merkle.verify_merkle_inclusion`), checkpoint
  (`sigstore._internal.rekor.checkpoint.verify_checkpoint`) and SET;
* `sigstore._internal.rekor.checkpoint.SignedCheckpoint`: signed-note parsing
  and signature check of `GET /api/v1/log` tree heads;
* `sigstore.verify.verifier._validate_hashedrekord_v001_entry_body` and
  `_validate_dsse_v001_entry_body`: the body-vs-materials checks;
* `sigstore.dsse` (`StatementBuilder`, `_sign`, `_verify`) and
  `RekorClient._build_dsse_request` / `_build_hashed_rekord_request`: the
  request bodies exactly as sigstore-python's signer builds them;
* `sigstore.models.TrustedRoot` / `rekor_keyring`: the key ring is built from a
  trusted_root.json holding our log key, as a real client would load it.

sigstore-python has NO consistency-proof verifier, so `verify_consistency`
below is OURS: a direct transcription of RFC 9162 section 2.1.4.2.  It is
exercised by `selftest` against trees built here (RFC 9162 2.1.4.1 SUBPROOF)
whose inclusion proofs are in turn checked with sigstore's merkle code.

Output: one line per check, `PASS <name>` or `FAIL <name>: <reason>`; the exit
status is 1 if any check failed.  interop.sh counts these lines.

Subcommands (see --help): selftest, trusted-root, snapshot, entries,
body-check, hashedrekord, dsse, consistency.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Iterator

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import rekor_types
import sigstore
from sigstore import dsse
from sigstore._internal import merkle
from sigstore._internal.rekor import RekorClientError, _hashedrekord_from_parts
from sigstore._internal.rekor.checkpoint import SignedCheckpoint
from sigstore._internal.rekor.client import RekorClient
from sigstore._utils import KeyID, sha256_digest
from sigstore.errors import VerificationError
from sigstore.models import Bundle, KeyringPurpose, TransparencyLogEntry, TrustedRoot
from sigstore.verify.verifier import (
    _validate_dsse_v001_entry_body,
    _validate_hashedrekord_v001_entry_body,
)
from sigstore_models.common.v1 import MessageSignature
from sigstore_models.trustroot import v1 as trustroot_v1

HTTP_TIMEOUT = 20  # seconds, for every request this script makes itself
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- output


class Checks:
    """Prints `PASS name` / `FAIL name: reason`, one line each, and counts."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    @contextlib.contextmanager
    def case(self, name: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - every failure becomes a FAIL line
            self.failed += 1
            reason = f"{type(exc).__name__}: {exc}".replace("\n", "\\n")
            if len(reason) > 1500:
                reason = reason[:1500] + "...(truncated)"
            print(f"FAIL {name}: {reason}", flush=True)
            if os.environ.get("CHECK_LOG_DEBUG"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"PASS {name}", flush=True)

    def must_raise(self, name: str, fn: Any, *args: Any, **kw: Any) -> None:
        """A negative check: `fn` must raise (any exception)."""
        with self.case(name):
            try:
                fn(*args, **kw)
            except Exception:  # noqa: BLE001
                return
            raise AssertionError("accepted, but must be rejected")


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


# --------------------------------------------------------------------------- merkle
# RFC 6962 / RFC 9162 hashing.  Leaf/node hashing reuses sigstore's helpers.


def leaf_hash(data: bytes) -> bytes:
    return merkle._hash_leaf(data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return merkle._hash_children(left, right)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 Merkle Tree Hash over already leaf-hashed inputs."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]) (ours; used by selftest only)."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(m, D[n]) (ours; used by selftest only)."""

    def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    return subproof(m, leaves, True)


def verify_consistency(
    first: int, second: int, proof: list[bytes], first_hash: bytes, second_hash: bytes
) -> None:
    """OURS (sigstore-python has none): RFC 9162 section 2.1.4.2, verbatim.

    Raises VerificationError on any mismatch.
    """
    if first < 1:
        raise VerificationError("consistency: first size must be >= 1")
    if first > second:
        raise VerificationError(f"consistency: first size {first} > second {second}")
    if first == second:
        if proof:
            raise VerificationError("consistency: proof for equal sizes must be empty")
        if first_hash != second_hash:
            raise VerificationError("consistency: equal sizes but different roots")
        return
    # 1. empty path for first != second -> fail
    if not proof:
        raise VerificationError("consistency: empty proof")
    path = list(proof)
    # 2. first is an exact power of two -> prepend first_hash
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not (fn & 1) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise VerificationError("consistency: proof too short")
    if fr != first_hash:
        raise VerificationError(
            f"consistency: computed old root {fr.hex()} != {first_hash.hex()}"
        )
    if sr != second_hash:
        raise VerificationError(
            f"consistency: computed new root {sr.hex()} != {second_hash.hex()}"
        )


# --------------------------------------------------------------------------- keys


def spki_der_from_pem(pem: bytes) -> bytes:
    key = serialization.load_pem_public_key(pem)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def trusted_root_json(base_url: str, pem: bytes) -> dict[str, Any]:
    """A trusted_root.json (v0.1) holding only our v1 log (see compat/rekor.md §7)."""
    der = spki_der_from_pem(pem)
    return {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [
            {
                "baseUrl": base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": base64.b64encode(der).decode(),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"},
                },
                "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()},
            }
        ],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }


def keyring_from_trusted_root(doc: dict[str, Any] | str | bytes):
    raw = doc if isinstance(doc, (str, bytes)) else json.dumps(doc)
    root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(raw))
    return root.rekor_keyring(KeyringPurpose.VERIFY)


def foreign_keyring(base_url: str):
    """A keyring with a fresh P-256 key: everything must FAIL under it."""
    k = ec.generate_private_key(ec.SECP256R1())
    pem = k.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keyring_from_trusted_root(trusted_root_json(base_url, pem))


def self_signed_cert(key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("interop@example.invalid")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


# --------------------------------------------------------------------------- context


class Ctx:
    """What we know about the log under test, independent of its answers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.url: str = args.url.rstrip("/")
        self.pem: bytes = Path(args.pubkey).read_bytes()
        self.der = spki_der_from_pem(self.pem)
        self.log_id = hashlib.sha256(self.der).digest()
        self.tree_id: int | None = args.tree_id
        self.hostname: str | None = args.hostname
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.tr = trusted_root_json(self.url, self.pem)
        (self.work / "trusted_root.json").write_text(json.dumps(self.tr, indent=2))
        self.keyring = keyring_from_trusted_root(self.tr)
        self.client = RekorClient(self.url)
        self.session = requests.Session()

    # state shared between invocations, in the work dir
    def add_checkpoint(self, text: str, source: str) -> None:
        with (self.work / "checkpoints.jsonl").open("a") as f:
            f.write(json.dumps({"checkpoint": text, "source": source}) + "\n")

    def checkpoints(self) -> list[dict[str, str]]:
        p = self.work / "checkpoints.jsonl"
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def add_uuid(self, entry_id: str) -> None:
        with (self.work / "uuids.txt").open("a") as f:
            f.write(entry_id + "\n")

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.url + path, params=params or None, timeout=HTTP_TIMEOUT)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=HTTP_TIMEOUT)


def http_detail(r: requests.Response) -> str:
    body = r.text
    if len(body) > 600:
        body = body[:600] + "..."
    return f"{r.request.method} {r.request.path_url} -> HTTP {r.status_code} {body!r}"


def expect_status(r: requests.Response, *codes: int) -> None:
    if r.status_code not in codes:
        raise AssertionError(f"expected HTTP {codes}, got: {http_detail(r)}")


# --------------------------------------------------------------------------- entry checks


def structural_checks(resp: Any, ctx: Ctx | None, *, expect_id: str | None = None) -> str:
    """Shape checks on a v1 `{entryID: LogEntry}` map (compat/rekor.md §1.3, §2.5, §9).

    Returns the entry ID.  Raises AssertionError listing every problem found.
    """
    problems: list[str] = []
    if not isinstance(resp, dict) or len(resp) != 1:
        raise AssertionError(f"response must be a map with exactly one key, got {str(resp)[:300]}")
    (eid, e), = resp.items()
    if len(eid) != 80 or eid != eid.lower() or any(c not in "0123456789abcdef" for c in eid):
        problems.append(f"map key must be the 80 lowercase-hex entry ID, got {eid!r}")
    if expect_id is not None and eid[-64:] != expect_id[-64:]:
        problems.append(f"returned entry {eid} but asked for {expect_id}")
    try:
        body = base64.b64decode(e["body"], validate=True)
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"body is not std base64: {exc}")
    lh = leaf_hash(body).hex()
    if eid[-64:] != lh:
        problems.append(f"UUID {eid[-64:]} != SHA256(0x00||body) {lh}")
    for k in ("integratedTime", "logIndex"):
        if not isinstance(e.get(k), int) or isinstance(e.get(k), bool):
            problems.append(f"{k} must be a JSON number, got {e.get(k)!r}")
    ver = e.get("verification") or {}
    ip = ver.get("inclusionProof") or {}
    for k in ("logIndex", "treeSize"):
        if not isinstance(ip.get(k), int):
            problems.append(f"inclusionProof.{k} must be a JSON number, got {ip.get(k)!r}")
    if "signedEntryTimestamp" not in ver:
        problems.append("verification.signedEntryTimestamp missing")
    if not ip.get("checkpoint"):
        problems.append("inclusionProof.checkpoint missing")
    for h in [ip.get("rootHash", "")] + list(ip.get("hashes") or []):
        if not (isinstance(h, str) and len(h) == 64 and h == h.lower()):
            problems.append(f"hash must be 64 lowercase hex: {h!r}")
            break
    if "attestation" in e:
        problems.append("'attestation' field must not be emitted")
    if ctx is not None:
        if e.get("logID") != ctx.log_id.hex():
            problems.append(f"logID {e.get('logID')!r} != sha256(SPKI) {ctx.log_id.hex()}")
        if ctx.tree_id is not None and eid[:16] != f"{ctx.tree_id:016x}":
            problems.append(f"entry ID prefix {eid[:16]} != %016x(treeID {ctx.tree_id})")
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        it = e.get("integratedTime")
        if isinstance(it, int) and not (now - 3600 < it < now + 300):
            problems.append(f"integratedTime {it} is not 'now' in Unix seconds ({int(now)})")
    cp = ip.get("checkpoint")
    if isinstance(cp, str) and cp:
        try:
            problems += checkpoint_shape(cp, ctx)
            sc = SignedCheckpoint.from_text(cp)
            if sc.checkpoint.log_size != ip.get("treeSize"):
                problems.append(
                    f"checkpoint size {sc.checkpoint.log_size} != inclusionProof.treeSize {ip.get('treeSize')}"
                )
            if sc.checkpoint.log_hash != ip.get("rootHash"):
                problems.append(
                    f"checkpoint root {sc.checkpoint.log_hash} != inclusionProof.rootHash {ip.get('rootHash')}"
                )
        except Exception as exc:  # noqa: BLE001
            problems.append(f"checkpoint unparsable by sigstore: {exc}")
    if isinstance(ip.get("logIndex"), int) and isinstance(ip.get("treeSize"), int):
        if not 0 <= ip["logIndex"] < ip["treeSize"]:
            problems.append(f"inclusionProof.logIndex {ip['logIndex']} not in [0, treeSize {ip['treeSize']})")
    if problems:
        raise AssertionError("; ".join(problems))
    return eid


def checkpoint_shape(text: str, ctx: Ctx | None) -> list[str]:
    """v1 signed-note rules (compat/rekor.md §4.1) beyond what sigstore parses."""
    problems = []
    if text.count("\n\n") != 1:
        problems.append("checkpoint must contain exactly one blank line")
    note, _, sigs = text.partition("\n\n")
    lines = note.split("\n")
    if len(lines) < 3:
        problems.append(f"checkpoint note has {len(lines)} lines, need >= 3")
        return problems
    sig_lines = [s for s in sigs.split("\n") if s]
    if len(sig_lines) != 1:
        problems.append(f"v1 checkpoint must carry exactly one signature line, got {len(sig_lines)}")
    if ctx is not None:
        if ctx.hostname is not None and ctx.tree_id is not None:
            want = f"{ctx.hostname} - {ctx.tree_id}"
            if lines[0] != want:
                problems.append(f"checkpoint origin {lines[0]!r} != {want!r}")
        for s in sig_lines:
            if not s.startswith("\u2014 "):
                problems.append(f"signature line must start with an em dash: {s!r}")
                continue
            parts = s[2:].split(" ")
            if len(parts) != 2:
                problems.append(f"malformed signature line {s!r}")
                continue
            name, sig = parts
            if ctx.hostname is not None and name != ctx.hostname:
                problems.append(f"signature key name {name!r} != hostname {ctx.hostname!r}")
            try:
                raw = base64.b64decode(sig, validate=True)
                if raw[:4] != ctx.log_id[:4]:
                    problems.append(f"key hint {raw[:4].hex()} != sha256(SPKI)[:4] {ctx.log_id[:4].hex()}")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"signature not base64: {exc}")
    return problems


def sigstore_verify(tle: TransparencyLogEntry, keyring) -> None:
    """Inclusion proof + checkpoint + SET, all by sigstore-python's code."""
    tle._verify(keyring)  # verify_merkle_inclusion + verify_checkpoint (+ SET if present)
    tle._verify_set(keyring)  # explicitly: never skip the SET


def verify_entry_response(
    chk: Checks, name: str, resp: Any, keyring, ctx: Ctx | None, base_url: str,
    expect_id: str | None = None,
) -> TransparencyLogEntry | None:
    """Every client-side check of one v1 response, as separate PASS/FAIL lines."""
    tle: TransparencyLogEntry | None = None
    with chk.case(f"{name}: response shape (one key, entryID=leaf hash, types, checkpoint consistency)"):
        structural_checks(resp, ctx, expect_id=expect_id)
    with chk.case(f"{name}: sigstore TransparencyLogEntry._from_v1_response"):
        tle = TransparencyLogEntry._from_v1_response(resp)
    if tle is None:
        return None
    with chk.case(f"{name}: sigstore inclusion proof (merkle.verify_merkle_inclusion)"):
        merkle.verify_merkle_inclusion(tle)
    with chk.case(f"{name}: sigstore checkpoint signature + root (checkpoint.verify_checkpoint)"):
        from sigstore._internal.rekor.checkpoint import verify_checkpoint

        verify_checkpoint(keyring, tle)
    with chk.case(f"{name}: sigstore SET (TransparencyLogEntry._verify_set)"):
        tle._verify_set(keyring)
    fk = foreign_keyring(base_url)
    chk.must_raise(f"{name}: SET rejected under a foreign log key", tle._verify_set, fk)
    chk.must_raise(f"{name}: checkpoint rejected under a foreign log key", tle._verify, fk)
    return tle


# --------------------------------------------------------------------------- selftest


def bundle_entry_to_v1_response(tle: dict[str, Any]) -> dict[str, Any]:
    """Turn a bundle's proto-JSON tlog entry back into the Rekor v1 API shape."""

    def hx(b64: str) -> str:
        return base64.b64decode(b64).hex()

    body = tle["canonicalizedBody"]
    ip = tle["inclusionProof"]
    # entry ID = %016x(treeID) || leaf hash; the tree ID is the origin's suffix
    origin = ip["checkpoint"]["envelope"].split("\n", 1)[0]
    tree_id = int(origin.rsplit(" - ", 1)[1])
    uuid = f"{tree_id:016x}" + leaf_hash(base64.b64decode(body)).hex()
    return {
        uuid: {
            "body": body,
            "integratedTime": int(tle["integratedTime"]),
            "logID": hx(tle["logId"]["keyId"]),
            "logIndex": int(tle["logIndex"]),
            "verification": {
                "signedEntryTimestamp": tle["inclusionPromise"]["signedEntryTimestamp"],
                "inclusionProof": {
                    "checkpoint": ip["checkpoint"]["envelope"],
                    "hashes": [hx(h) for h in ip["hashes"]],
                    "logIndex": int(ip["logIndex"]),
                    "rootHash": hx(ip["rootHash"]),
                    "treeSize": int(ip["treeSize"]),
                },
            },
        }
    }


def cmd_selftest(args: argparse.Namespace, chk: Checks) -> None:
    """Offline: this checker's logic against a recorded real Rekor entry + RFC 9162 trees."""
    td = HERE / "testdata"
    bundle_json = json.loads((td / "staging-hashedrekord.txt.sigstore").read_text())
    artifact = (td / "staging-hashedrekord.txt").read_bytes()
    staging_root = (
        Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev" / "trusted_root.json"
    )
    keyring = keyring_from_trusted_root(staging_root.read_bytes())
    base = "https://rekor.sigstage.dev"
    resp = bundle_entry_to_v1_response(bundle_json["verificationMaterial"]["tlogEntries"][0])
    # 1. the recorded real staging entry passes every check
    tle = verify_entry_response(chk, "selftest staging entry", resp, keyring, None, base)
    with chk.case("selftest staging entry: hashedrekord body matches materials (sigstore _validate_hashedrekord_v001_entry_body)"):
        bundle = Bundle.from_json(json.dumps(bundle_json))
        _validate_hashedrekord_v001_entry_body(bundle, sha256_digest(artifact))
    chk.must_raise(
        "selftest staging entry: tampered artifact rejected",
        _validate_hashedrekord_v001_entry_body,
        Bundle.from_json(json.dumps(bundle_json)),
        sha256_digest(artifact + b"x"),
    )
    # 2. mutations must be caught
    (uuid, e), = resp.items()

    def mutated(fn) -> dict[str, Any]:
        m = json.loads(json.dumps(resp))
        fn(m[uuid])
        return m

    def flip_hash(x: dict) -> None:
        h = x["verification"]["inclusionProof"]["hashes"]
        h[0] = ("0" if h[0][0] != "0" else "1") + h[0][1:]

    def bump_time(x: dict) -> None:
        x["integratedTime"] += 1

    def bump_index(x: dict) -> None:
        x["verification"]["inclusionProof"]["logIndex"] += 1

    def bad_cp(x: dict) -> None:
        cp = x["verification"]["inclusionProof"]["checkpoint"]
        lines = cp.split("\n")
        lines[1] = str(int(lines[1]) + 1)
        x["verification"]["inclusionProof"]["checkpoint"] = "\n".join(lines)

    for label, fn in [
        ("corrupted proof hash", flip_hash),
        ("changed integratedTime (SET)", bump_time),
        ("changed proof logIndex", bump_index),
        ("altered checkpoint note", bad_cp),
    ]:
        chk.must_raise(
            f"selftest staging entry: {label} rejected",
            lambda m=mutated(fn): sigstore_verify(TransparencyLogEntry._from_v1_response(m), keyring),
        )
    chk.must_raise(
        "selftest staging entry: shape check catches UUID != leaf hash",
        structural_checks,
        {(uuid[:16] + "f" * 64): e},
        None,
    )
    # 3. our RFC 9162 consistency verifier vs trees built here
    with chk.case("selftest RFC 9162 tree: our inclusion paths verify with sigstore merkle code"):
        leaves = [leaf_hash(f"leaf {i}".encode()) for i in range(40)]
        for n in range(1, 41):
            root = mth(leaves[:n])
            for m in range(n):
                path = inclusion_path(m, leaves[:n])
                inner, border = merkle._decomp_inclusion_proof(m, n)
                expect(len(path) == inner + border, f"path length {m}/{n}")
                r = merkle._chain_border_right(
                    merkle._chain_inner(leaves[m], path[:inner], m), path[inner:]
                )
                expect(r == root, f"inclusion {m}/{n}")
    with chk.case("selftest RFC 9162 consistency: all 1<=m<=n<=40 verify"):
        for n in range(1, 41):
            rn = mth(leaves[:n])
            for m in range(1, n + 1):
                p = consistency_proof(m, leaves[:n]) if m < n else []
                verify_consistency(m, n, p, mth(leaves[:m]), rn)
    with chk.case("selftest RFC 9162 consistency: every single-hash corruption / wrong root / truncation rejected"):
        for n in range(2, 25):
            rn = mth(leaves[:n])
            for m in range(1, n):
                rm = mth(leaves[:m])
                p = consistency_proof(m, leaves[:n])
                bad = [
                    (m, n, p, rm, leaf_hash(b"x")),
                    (m, n, p, leaf_hash(b"x"), rn),
                    (m, n, p[:-1], rm, rn),
                    (m, n, p + [rn], rm, rn),
                ]
                for i in range(len(p)):
                    q = list(p)
                    q[i] = hashlib.sha256(q[i]).digest()
                    bad.append((m, n, q, rm, rn))
                for case_ in bad:
                    try:
                        verify_consistency(*case_)
                    except VerificationError:
                        continue
                    raise AssertionError(f"accepted bad proof m={m} n={n}")


# --------------------------------------------------------------------------- online commands


def cmd_trusted_root(args: argparse.Namespace, chk: Checks) -> None:
    ctx = Ctx(args)
    with chk.case("trusted_root.json with our log key loads in sigstore (TrustedRoot.rekor_keyring)"):
        keyring_from_trusted_root(json.loads((ctx.work / "trusted_root.json").read_text()))


def cmd_snapshot(args: argparse.Namespace, chk: Checks) -> None:
    """GET /api/v1/log via sigstore's client; verify and record the signed tree head."""
    ctx = Ctx(args)
    name = f"py loginfo snapshot ({args.label})"
    with chk.case(f"{name}: GET /api/v1/log shape, STH signature (sigstore SignedCheckpoint) and fields"):
        r = ctx.get("/api/v1/log")
        expect_status(r, 200)
        info = r.json()
        problems = []
        if not isinstance(info.get("treeSize"), int):
            problems.append(f"treeSize must be a JSON number: {info.get('treeSize')!r}")
        if not isinstance(info.get("treeID"), str):
            problems.append(f"treeID must be a decimal string: {info.get('treeID')!r}")
        elif ctx.tree_id is not None and info["treeID"] != str(ctx.tree_id):
            problems.append(f"treeID {info['treeID']} != --tree-id {ctx.tree_id}")
        if "inactiveShards" in info and not info["inactiveShards"]:
            problems.append("inactiveShards must be omitted when empty")
        sth = info.get("signedTreeHead", "")
        problems += checkpoint_shape(sth, ctx)
        sc = SignedCheckpoint.from_text(sth)
        sc.signed_note.verify(ctx.keyring, KeyID(ctx.log_id))
        if sc.checkpoint.log_size != info.get("treeSize"):
            problems.append(f"STH size {sc.checkpoint.log_size} != treeSize {info.get('treeSize')}")
        if sc.checkpoint.log_hash != info.get("rootHash"):
            problems.append(f"STH root {sc.checkpoint.log_hash} != rootHash {info.get('rootHash')}")
        # sigstore's own client must parse it too
        li = ctx.client.log.get()
        expect(li.tree_size == info.get("treeSize"), "sigstore RekorLog.get() disagrees")
        if problems:
            raise AssertionError("; ".join(problems))
        ctx.add_checkpoint(sth, f"loginfo:{args.label}")
        if sc.checkpoint.log_size == 0 and info.get("rootHash") != hashlib.sha256(b"").hexdigest():
            raise AssertionError(f"empty tree root must be SHA256('') , got {info.get('rootHash')}")


def fetch_and_verify(chk: Checks, ctx: Ctx, entry_id: str) -> dict[str, Any] | None:
    """GET one entry by 80-hex ID, 64-hex UUID and logIndex; verify each answer."""
    short = entry_id[-64:][:12]
    first: dict[str, Any] | None = None
    with chk.case(f"py entry {short}: GET /api/v1/log/entries/<80-hex entryID> via sigstore RekorClient"):
        tle = ctx.client.log.entries.get(uuid=entry_id)
        expect(tle is not None, "no entry")
    r = None
    with chk.case(f"py entry {short}: raw GET by entryID is 200"):
        r = ctx.get(f"/api/v1/log/entries/{entry_id}")
        expect_status(r, 200)
    if r is None or r.status_code != 200:
        return None
    first = r.json()
    tle = verify_entry_response(chk, f"py entry {short} (by entryID)", first, ctx.keyring, ctx, ctx.url, entry_id)
    (_, e), = first.items()
    ctx.add_checkpoint(e["verification"]["inclusionProof"]["checkpoint"], f"entry:{short}")
    with chk.case(f"py entry {short}: GET by 64-hex UUID returns the same entry"):
        r2 = ctx.get(f"/api/v1/log/entries/{entry_id[-64:]}")
        expect_status(r2, 200)
        (k2, e2), = r2.json().items()
        expect(k2[-64:] == entry_id[-64:], f"key {k2}")
        expect(e2["body"] == e["body"] and e2["logIndex"] == e["logIndex"], "different body/logIndex")
        sigstore_verify(TransparencyLogEntry._from_v1_response(r2.json()), ctx.keyring)
    with chk.case(f"py entry {short}: GET ?logIndex={e.get('logIndex')} returns the same entry and verifies"):
        r3 = ctx.get("/api/v1/log/entries", logIndex=e["logIndex"])
        expect_status(r3, 200)
        (k3, e3), = r3.json().items()
        expect(k3 == next(iter(first)), f"key {k3} != {next(iter(first))}")
        expect(e3["body"] == e["body"], "different body")
        sigstore_verify(TransparencyLogEntry._from_v1_response(r3.json()), ctx.keyring)
    return first


def cmd_entries(args: argparse.Namespace, chk: Checks) -> None:
    ctx = Ctx(args)
    ids = list(args.uuid or [])
    if args.all:
        p = ctx.work / "uuids.txt"
        ids += [x.strip() for x in p.read_text().splitlines() if x.strip()] if p.exists() else []
    ids = list(dict.fromkeys(ids))
    with chk.case("py entries: at least one entry ID to check"):
        expect(bool(ids), "no entry IDs were recorded by earlier cases")
    for eid in ids:
        fetch_and_verify(chk, ctx, eid)
    with chk.case("py entries: unknown UUID -> 404"):
        r = ctx.get(f"/api/v1/log/entries/{'ab' * 32}")
        expect_status(r, 404)
    with chk.case("py entries: logIndex past the end -> 404"):
        size = ctx.get("/api/v1/log").json()["treeSize"]
        r = ctx.get("/api/v1/log/entries", logIndex=size + 1000)
        expect_status(r, 404)


def cmd_body_check(args: argparse.Namespace, chk: Checks) -> None:
    """sigstore's hashedrekord body-vs-materials check on an entry made by rekor-cli (cert)."""
    ctx = Ctx(args)
    artifact = Path(args.artifact).read_bytes()
    sig = Path(args.signature).read_bytes()
    cert = x509.load_pem_x509_certificate(Path(args.cert).read_bytes())
    name = f"py body-check {args.uuid[-64:][:12]}"
    tle = None
    with chk.case(f"{name}: fetch via sigstore RekorClient"):
        tle = ctx.client.log.entries.get(uuid=args.uuid)
    if tle is None:
        return
    with chk.case(f"{name}: sigstore _validate_hashedrekord_v001_entry_body (body == sigstore's own rebuild, incl. Go-style PEM)"):
        bundle = Bundle.from_parts(cert, sig, tle)
        _validate_hashedrekord_v001_entry_body(bundle, sha256_digest(artifact))
    chk.must_raise(
        f"{name}: tampered artifact does not match the entry",
        _validate_hashedrekord_v001_entry_body,
        Bundle.from_parts(cert, sig, tle),
        sha256_digest(artifact + b"tampered"),
    )


def cmd_hashedrekord(args: argparse.Namespace, chk: Checks) -> None:
    """Upload exactly as sigstore-python's signer does (certificate as key), then verify."""
    ctx = Ctx(args)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_cert(key, "sigstack interop hashedrekord")
    artifact = os.urandom(16).hex().encode() + b" sigstore-python hashedrekord artifact\n"
    hashed = sha256_digest(artifact)
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    sig = key.sign(hashed.digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    req = ctx.client._build_hashed_rekord_request(hashed, sig, cert)
    tle = None
    with chk.case("py hashedrekord: POST /api/v1/log/entries via sigstore RekorClient.create_entry"):
        tle = ctx.client.create_entry(req)
    if tle is None:
        return
    eid = f"{ctx.tree_id or 0:016x}" + leaf_hash(tle._inner.canonicalized_body).hex()
    ctx.add_uuid(eid)
    ctx.add_checkpoint(tle._inner.inclusion_proof.checkpoint.envelope, "py-hashedrekord")
    with chk.case("py hashedrekord: returned entry verifies (sigstore inclusion + checkpoint + SET)"):
        sigstore_verify(tle, ctx.keyring)
    with chk.case("py hashedrekord: kind/version hashedrekord 0.0.1"):
        kv = tle._inner.kind_version
        expect((kv.kind, kv.version) == ("hashedrekord", "0.0.1"), f"{kv}")
    with chk.case("py hashedrekord: body matches materials (sigstore _validate_hashedrekord_v001_entry_body)"):
        _validate_hashedrekord_v001_entry_body(Bundle.from_parts(cert, sig, tle), hashed)
    with chk.case("py hashedrekord: bundle round-trips through Bundle.to_json/from_json"):
        b = Bundle.from_parts(cert, sig, tle)
        Bundle.from_json(b.to_json())
    with chk.case("py hashedrekord: sigstore RekorEntriesRetrieve.post (POST .../entries/retrieve/) finds it"):
        found = ctx.client.log.entries.retrieve.post(_hashedrekord_from_parts(cert, sig, hashed))
        expect(found is not None, "no entry found")
        expect(found._inner.canonicalized_body == tle._inner.canonicalized_body, "different entry returned")
        sigstore_verify(found, ctx.keyring)
    with chk.case("py hashedrekord: retrieve without trailing slash finds it too"):
        r = ctx.post(
            "/api/v1/log/entries/retrieve",
            {"entries": [_hashedrekord_from_parts(cert, sig, hashed).model_dump(mode="json", by_alias=True)]},
        )
        expect_status(r, 200)
        expect(len(r.json()) == 1, f"expected 1 result: {http_detail(r)}")
    with chk.case("py hashedrekord: retrieve of a valid entry that was never uploaded finds nothing (200, [])"):
        absent = sha256_digest(artifact + b"never uploaded")
        absent_sig = key.sign(absent.digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        r = ctx.post(
            "/api/v1/log/entries/retrieve/",
            {"entries": [_hashedrekord_from_parts(cert, absent_sig, absent).model_dump(mode="json", by_alias=True)]},
        )
        expect_status(r, 200)
        expect(r.json() == [], f"expected []: {http_detail(r)}")
    # Upstream SearchLogQueryHandler runs types.UnmarshalEntry -> hashedrekord validate(),
    # which verifies the signature: a query whose signature does not match its digest is a
    # 400 for the whole request (rekor v1.5.4 pkg/api/entries.go), not an empty result.
    with chk.case("py hashedrekord: retrieve with a tampered digest (signature no longer valid) -> 400 like upstream"):
        other = sha256_digest(artifact + b"tampered")
        r = ctx.post(
            "/api/v1/log/entries/retrieve/",
            {"entries": [_hashedrekord_from_parts(cert, sig, other).model_dump(mode="json", by_alias=True)]},
        )
        expect_status(r, 400)
    with chk.case("py hashedrekord: duplicate POST -> RekorClientError 409 'an equivalent entry already exists'"):
        try:
            ctx.client.create_entry(req)
        except RekorClientError as exc:
            expect(str(exc).startswith("409: an equivalent entry already exists in the transparency log with UUID"), f"got {exc}")
        else:
            raise AssertionError("duplicate accepted")


def cmd_dsse(args: argparse.Namespace, chk: Checks) -> None:
    """DSSE 0.0.1 with proposedContent, signed and submitted with sigstore's own code."""
    ctx = Ctx(args)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_cert(key, "sigstack interop dsse")
    subject_digest = hashlib.sha256(os.urandom(32)).hexdigest()
    stmt = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject(name="interop.bin", digest={"sha256": subject_digest})])
        .predicate_type("https://example.invalid/sigstack/interop/v1")
        .predicate({"run": subject_digest[:16]})
        .build()
    )
    envelope = dsse._sign(key, stmt)
    req = ctx.client._build_dsse_request(envelope, cert)
    envelope_str = req["spec"]["proposedContent"]["envelope"]
    tle = None
    with chk.case("py dsse: POST kind dsse 0.0.1 (proposedContent) via sigstore RekorClient.create_entry"):
        tle = ctx.client.create_entry(req)
    if tle is None:
        return
    eid = f"{ctx.tree_id or 0:016x}" + leaf_hash(tle._inner.canonicalized_body).hex()
    ctx.add_uuid(eid)
    ctx.add_checkpoint(tle._inner.inclusion_proof.checkpoint.envelope, "py-dsse")
    with chk.case("py dsse: returned entry verifies (sigstore inclusion + checkpoint + SET)"):
        sigstore_verify(tle, ctx.keyring)
    with chk.case("py dsse: kind/version dsse 0.0.1"):
        kv = tle._inner.kind_version
        expect((kv.kind, kv.version) == ("dsse", "0.0.1"), f"{kv}")
    with chk.case("py dsse: body matches envelope (sigstore _validate_dsse_v001_entry_body + dsse._verify)"):
        bundle = Bundle._from_parts(cert, envelope, tle)
        dsse._verify(cert.public_key(), envelope)
        _validate_dsse_v001_entry_body(bundle)
    with chk.case("py dsse: canonical body (envelopeHash over the envelope as sent, payloadHash, sorted keys, no proposedContent)"):
        body_bytes = tle._inner.canonicalized_body
        body = json.loads(body_bytes)
        spec = body.get("spec", {})
        problems = []
        if body.get("kind") != "dsse" or body.get("apiVersion") != "0.0.1":
            problems.append(f"kind/apiVersion {body.get('kind')}/{body.get('apiVersion')}")
        if "proposedContent" in spec:
            problems.append("proposedContent must not be stored")
        want_env = hashlib.sha256(envelope_str.encode()).hexdigest()
        if spec.get("envelopeHash") != {"algorithm": "sha256", "value": want_env}:
            problems.append(f"envelopeHash {spec.get('envelopeHash')} != sha256 {want_env}")
        want_pl = hashlib.sha256(stmt._contents).hexdigest()
        if spec.get("payloadHash") != {"algorithm": "sha256", "value": want_pl}:
            problems.append(f"payloadHash {spec.get('payloadHash')} != sha256 {want_pl}")
        import rfc8785

        if rfc8785.dumps(body) != body_bytes:
            problems.append("stored body is not JCS (RFC 8785) canonical")
        if problems:
            raise AssertionError("; ".join(problems))
    fetch_and_verify(chk, ctx, eid)
    with chk.case("py dsse: search by proposed entry (POST /entries/retrieve/) finds it"):
        r = ctx.post("/api/v1/log/entries/retrieve/", {"entries": [req]})
        expect_status(r, 200)
        res = r.json()
        expect(len(res) == 1 and next(iter(res[0]))[-64:] == eid[-64:], f"got {http_detail(r)}")
        sigstore_verify(TransparencyLogEntry._from_v1_response(res[0]), ctx.keyring)
    with chk.case("py dsse: duplicate POST -> 409"):
        try:
            ctx.client.create_entry(req)
        except RekorClientError as exc:
            expect(str(exc).startswith("409: an equivalent entry already exists"), f"got {exc}")
        else:
            raise AssertionError("duplicate accepted")
    with chk.case("py dsse: envelope signed by another key -> 400"):
        other = ec.generate_private_key(ec.SECP256R1())
        bad_env = dsse._sign(other, stmt)
        bad_req = ctx.client._build_dsse_request(bad_env, cert)
        r = ctx.post("/api/v1/log/entries", bad_req)
        expect_status(r, 400)
        j = r.json()
        expect(j.get("code") == 400 and isinstance(j.get("message"), str), f"error body {j}")
    with chk.case("py dsse: tampered payload (signature no longer over PAE) -> 400"):
        env = json.loads(envelope_str)
        env["payload"] = base64.b64encode(base64.b64decode(env["payload"]) + b" ").decode()
        bad_req = json.loads(json.dumps(req))
        bad_req["spec"]["proposedContent"]["envelope"] = json.dumps(env)
        r = ctx.post("/api/v1/log/entries", bad_req)
        expect_status(r, 400)


def cmd_consistency(args: argparse.Namespace, chk: Checks) -> None:
    """Consistency proofs between every pair of recorded signed tree heads.

    The verifier is OURS (RFC 9162 2.1.4.2): sigstore-python does not implement one.
    Tree heads come from checkpoints the server signed earlier in the run (each
    verified with sigstore's SignedCheckpoint); additionally every root is
    recomputed from the leaves fetched by logIndex.
    """
    ctx = Ctx(args)
    heads: dict[int, bytes] = {}
    with chk.case("py consistency: all recorded checkpoints verify (sigstore SignedCheckpoint) and never fork"):
        recs = ctx.checkpoints()
        expect(len(recs) >= 2, f"need >= 2 recorded checkpoints, have {len(recs)}")
        for rec in recs:
            sc = SignedCheckpoint.from_text(rec["checkpoint"])
            sc.signed_note.verify(ctx.keyring, KeyID(ctx.log_id))
            size, root = sc.checkpoint.log_size, bytes.fromhex(sc.checkpoint.log_hash)
            if size in heads and heads[size] != root:
                raise AssertionError(f"two different signed roots for size {size} ({rec['source']})")
            heads[size] = root
    r = ctx.get("/api/v1/log")
    cur = r.json() if r.status_code == 200 else {}
    cur_size = cur.get("treeSize", 0)
    sizes = sorted(s for s in heads if s > 0)
    with chk.case(f"py consistency: RFC 9162 proofs for all pairs of sizes {sizes}"):
        expect(len(sizes) >= 2, "need at least two distinct non-zero tree sizes")
        errors = []
        for i, a in enumerate(sizes):
            for b in sizes[i + 1:]:
                rr = ctx.get("/api/v1/log/proof", firstSize=a, lastSize=b)
                if rr.status_code != 200:
                    errors.append(http_detail(rr))
                    continue
                j = rr.json()
                try:
                    verify_consistency(a, b, [bytes.fromhex(h) for h in j["hashes"]], heads[a], heads[b])
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{a}->{b}: {exc} (hashes={j.get('hashes')})")
        if errors:
            raise AssertionError("; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""))
    with chk.case("py consistency: firstSize == lastSize -> 200 with empty hashes"):
        s = sizes[-1] if sizes else 1
        rr = ctx.get("/api/v1/log/proof", firstSize=s, lastSize=s)
        expect_status(rr, 200)
        expect(rr.json().get("hashes") == [], f"{http_detail(rr)}")
    with chk.case("py consistency: firstSize > lastSize -> 400"):
        rr = ctx.get("/api/v1/log/proof", firstSize=3, lastSize=2)
        expect_status(rr, 400)
        j = rr.json()
        expect(j.get("code") == 400 and "firstSize(3) must be less than lastSize(2)" in j.get("message", ""), f"{http_detail(rr)}")
    with chk.case("py consistency: lastSize beyond the tree -> 400"):
        rr = ctx.get("/api/v1/log/proof", firstSize=1, lastSize=cur_size + 10)
        expect_status(rr, 400)
    with chk.case("py consistency: every signed root equals the root recomputed from all leaves (GET ?logIndex=i)"):
        leaves = []
        for i in range(cur_size):
            ri = ctx.get("/api/v1/log/entries", logIndex=i)
            expect_status(ri, 200)
            (k, e), = ri.json().items()
            lh = leaf_hash(base64.b64decode(e["body"]))
            expect(k[-64:] == lh.hex(), f"logIndex {i}: key {k} is not the leaf hash")
            expect(e["logIndex"] == i, f"logIndex {i}: entry says {e['logIndex']}")
            leaves.append(lh)
        bad = [s for s in heads if s <= cur_size and mth(leaves[:s]) != heads[s]]
        expect(not bad, f"signed roots for sizes {bad} do not match the leaves")
        expect(
            mth(leaves).hex() == cur.get("rootHash"),
            f"GET /api/v1/log rootHash {cur.get('rootHash')} != MTH of {cur_size} leaves {mth(leaves).hex()}",
        )


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def online(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", required=True, help="log base URL, e.g. http://127.0.0.1:3000")
        p.add_argument("--pubkey", required=True, help="PEM SPKI of the log key (derived locally)")
        p.add_argument("--tree-id", type=int, default=None)
        p.add_argument("--hostname", default=None)
        p.add_argument("--work", required=True, help="state dir shared by invocations")

    sub.add_parser("selftest", help="offline self-test on recorded Rekor data")
    p = sub.add_parser("trusted-root"); online(p)
    p = sub.add_parser("snapshot"); online(p); p.add_argument("--label", default="")
    p = sub.add_parser("entries"); online(p)
    p.add_argument("--uuid", action="append"); p.add_argument("--all", action="store_true")
    p = sub.add_parser("body-check"); online(p)
    for a in ("--uuid", "--artifact", "--signature", "--cert"):
        p.add_argument(a, required=True)
    p = sub.add_parser("hashedrekord"); online(p)
    p = sub.add_parser("dsse"); online(p)
    p = sub.add_parser("consistency"); online(p)
    args = ap.parse_args()

    chk = Checks()
    fn = {
        "selftest": cmd_selftest,
        "trusted-root": cmd_trusted_root,
        "snapshot": cmd_snapshot,
        "entries": cmd_entries,
        "body-check": cmd_body_check,
        "hashedrekord": cmd_hashedrekord,
        "dsse": cmd_dsse,
        "consistency": cmd_consistency,
    }[args.cmd]
    try:
        fn(args, chk)
    except Exception as exc:  # noqa: BLE001 - a crash outside a check is a FAIL too
        chk.failed += 1
        print(f"FAIL check_log {args.cmd}: crashed: {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        traceback.print_exc()
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())
