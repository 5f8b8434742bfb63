#!/usr/bin/env python3
"""Bundle and token glue for the stack section of scripts/interop.sh (test glue, stdlib only).

  stack_bundle.py tamper IN.json OUT.json sig|cert
      Copy a Sigstore bundle (v0.1-v0.3) with one bit flipped in the last byte of the
      message signature (sig) or of the leaf certificate's DER (cert: inside the CA's
      signature value, so the certificate still parses but no longer chains). The JSON
      stays well-formed, so a verifier must refuse it on cryptographic grounds.
  stack_bundle.py info BUNDLE.json
      One JSON line: {logIndex, canonicalizedBody, mediaType, material} of the first tlog entry.
  stack_bundle.py v2-entry LOG-URL INDEX
      The base64 body of entry INDEX of a Rekor v2 (tlog-tiles) log, read from its entry
      bundle tile (<LOG-URL>/tile/entries/<N>[.p/<W>], width from <LOG-URL>/checkpoint).
  stack_bundle.py claims JWT
      The (unverified) JSON payload of a JWT, and its header under "_header".
"""
import base64
import json
import sys


def leaf_holder(bundle):
    vm = bundle["verificationMaterial"]
    if "certificate" in vm:
        return vm["certificate"]
    return vm["x509CertificateChain"]["certificates"][0]


def tamper(src, dst, what):
    bundle = json.load(open(src))
    if what == "sig":
        holder, key = bundle["messageSignature"], "signature"
    elif what == "cert":
        holder, key = leaf_holder(bundle), "rawBytes"
    else:
        sys.exit(f"tamper: unknown target {what!r} (sig|cert)")
    raw = bytearray(base64.b64decode(holder[key]))
    raw[-1] ^= 0x01
    holder[key] = base64.b64encode(bytes(raw)).decode()
    json.dump(bundle, open(dst, "w"), indent=2)


def info(path):
    bundle = json.load(open(path))
    vm = bundle["verificationMaterial"]
    entry = (vm.get("tlogEntries") or [{}])[0]
    material = next((k for k in ("certificate", "x509CertificateChain", "publicKey") if k in vm), None)
    print(json.dumps({
        # proto3 JSON omits a zero logIndex (cosign does; sigstore-python does not)
        "logIndex": int(entry.get("logIndex", 0)),
        "canonicalizedBody": entry.get("canonicalizedBody"),
        "mediaType": bundle.get("mediaType"),
        "material": material,
    }))


def tile_path(n):
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def v2_entry(url, index):
    import urllib.request
    index = int(index)
    size = int(urllib.request.urlopen(f"{url}/checkpoint").read().decode().split("\n")[1])
    if index >= size:
        sys.exit(f"index {index} is beyond the tree size {size}")
    n = index // 256
    width = min(256, size - n * 256)
    path = f"{url}/tile/entries/{tile_path(n)}" + ("" if width == 256 else f".p/{width}")
    data = urllib.request.urlopen(path).read()
    pos, i = 0, n * 256
    while pos < len(data):
        ln = int.from_bytes(data[pos:pos + 2], "big")
        body = data[pos + 2:pos + 2 + ln]
        if i == index:
            print(base64.b64encode(body).decode())
            return
        pos, i = pos + 2 + ln, i + 1
    sys.exit(f"entry {index} not in {path}")


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(token):
    parts = token.strip().split(".")
    if len(parts) != 3:
        sys.exit(f"not a JWS compact token ({len(parts)} parts)")
    out = json.loads(b64url(parts[1]))
    out["_header"] = json.loads(b64url(parts[0]))
    print(json.dumps(out))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tamper" and len(args) == 3:
        tamper(*args)
    elif cmd == "info" and len(args) == 1:
        info(*args)
    elif cmd == "v2-entry" and len(args) == 2:
        v2_entry(*args)
    elif cmd == "claims" and len(args) == 1:
        claims(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
