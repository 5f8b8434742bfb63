#!/usr/bin/env python3
"""Check a leaf issued by our Fulcio with pyca/cryptography (independent of our code).

usage: check_cert.py LEAF.pem CTLOG_PUB.pem ISSUER.pem EMAIL OIDC_ISSUER
Exits non-zero with a message on the first failed check.
"""
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
import hashlib
import struct
from datetime import timezone


def fail(msg):
    sys.exit("FAIL: " + msg)


def main():
    leaf = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
    ct_key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
    issuer = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
    email, oidc_issuer = sys.argv[4], sys.argv[5]

    if len(leaf.subject.rdns) != 0:
        fail(f"subject not empty: {leaf.subject}")
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    if life.total_seconds() != 600:
        fail(f"validity {life}, want 10 minutes")
    san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not san.critical or san.value.get_values_for_type(x509.RFC822Name) != [email]:
        fail(f"SAN {san}")
    ku = leaf.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    if not ku.critical or not ku.value.digital_signature or ku.value.key_cert_sign:
        fail(f"key usage {ku}")
    eku = leaf.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    if eku.critical or list(eku.value) != [ExtendedKeyUsageOID.CODE_SIGNING]:
        fail(f"EKU {eku}")
    aki = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    ski = issuer.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    if aki.key_identifier != ski.digest:
        fail("AKI != issuer SKI")
    ext = {e.oid.dotted_string: e for e in leaf.extensions}
    raw_iss = ext["1.3.6.1.4.1.57264.1.1"].value.value
    if raw_iss != oidc_issuer.encode():
        fail(f".1 = {raw_iss!r}")
    der_iss = ext["1.3.6.1.4.1.57264.1.8"].value.value
    if der_iss != b"\x0c" + bytes([len(oidc_issuer)]) + oidc_issuer.encode():
        fail(f".8 = {der_iss!r}")
    if "1.3.6.1.4.1.57264.1.24" not in ext:
        fail("no .24 (token subject)")

    scts = leaf.extensions.get_extension_for_oid(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS).value
    scts = list(scts)
    if len(scts) != 1:
        fail(f"{len(scts)} SCTs, want 1")
    sct = scts[0]
    ct_spki = ct_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if sct.log_id != hashlib.sha256(ct_spki).digest():
        fail("SCT log id is not SHA-256 of the CT log key")
    # RFC 6962 3.2 signed data for a precert entry, rebuilt from the final certificate.
    tbs = leaf.tbs_precertificate_bytes
    ikh = hashlib.sha256(issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
    t = sct.timestamp if sct.timestamp.tzinfo else sct.timestamp.replace(tzinfo=timezone.utc)
    ts = int(t.timestamp() * 1000 + 0.5)
    data = (b"\x00\x00" + struct.pack(">Q", ts) + b"\x00\x01" + ikh
            + struct.pack(">I", len(tbs))[1:] + tbs + struct.pack(">H", len(sct.extension_bytes)) + sct.extension_bytes)
    ct_key.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
    print("ok")


if __name__ == "__main__":
    main()
