#!/usr/bin/env python3
"""Build a ClientTrustConfig (trusted root + signing config) for sigstore-python
from the public material of our running services. Test glue only: the product's
publisher for these documents is tuf-root.

usage: trust_config.py OUT.json --fulcio-url U --fulcio-chain CHAIN.pem
           --rekor-url U --rekor-pub PUB.pem --ctlog-url U --ctlog-pub PUB.pem
           --oidc-url U
"""
import argparse
import base64
import hashlib
import json
import re
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def pem_blocks(text, label):
    return [base64.b64decode("".join(m.split()))
            for m in re.findall(rf"-----BEGIN {label}-----(.*?)-----END {label}-----", text, re.S)]


def spki_der(path):
    key = serialization.load_pem_public_key(open(path, "rb").read())
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def b64(b):
    return base64.b64encode(b).decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    for a in ("fulcio-url", "fulcio-chain", "rekor-url", "rekor-pub", "ctlog-url", "ctlog-pub", "oidc-url"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--start", default="2020-01-01T00:00:00Z")
    a = p.parse_args()

    chain = pem_blocks(open(a.fulcio_chain).read(), "CERTIFICATE")
    if len(chain) < 1:
        sys.exit("no certificates in the Fulcio chain")
    root = x509.load_der_x509_certificate(chain[-1])
    org = root.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    cn = root.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    rekor = spki_der(a.rekor_pub)
    ctlog = spki_der(a.ctlog_pub)
    valid = {"start": a.start}
    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": a.rekor_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": b64(rekor), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
            "logId": {"keyId": b64(hashlib.sha256(rekor).digest())},
        }],
        "certificateAuthorities": [{
            "subject": {"organization": org[0].value if org else "", "commonName": cn[0].value if cn else ""},
            "uri": a.fulcio_url,
            # Intermediate(s) first, root last, as Fulcio's trust bundle.
            "certChain": {"certificates": [{"rawBytes": b64(c)} for c in chain]},
            "validFor": valid,
        }],
        "ctlogs": [{
            "baseUrl": a.ctlog_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": b64(ctlog), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
            "logId": {"keyId": b64(hashlib.sha256(ctlog).digest())},
        }],
    }
    service = lambda url, v: {"url": url, "majorApiVersion": v, "validFor": valid, "operator": "sigstack-interop"}
    signing_config = {
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [service(a.fulcio_url, 1)],
        "oidcUrls": [service(a.oidc_url, 1)],
        "rekorTlogUrls": [service(a.rekor_url, 1)],
        "rekorTlogConfig": {"selector": "ANY"},
        # No TSA yet: omit tsaUrls/tsaConfig entirely (sigstore-js rejects a tsaConfig without TSAs).
    }
    out = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": signing_config,
    }
    json.dump(out, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
