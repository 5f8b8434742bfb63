#!/usr/bin/env node
// sigstore-js peer for the Fulcio section of scripts/interop.sh (test glue, CommonJS).
// The pinned packages live outside the clone: run with NODE_PATH=<prefix>/node_modules.
//
//   sigstore_js.js sign   --fulcio URL --rekor URL [--tsa BASE-URL] --token-file F --artifact A --bundle OUT
//       sigstore.sign() (public API of the `sigstore` package): ephemeral P-256 key,
//       publicKeyRequest to our Fulcio with the token in the body (credentials),
//       hashedrekord 0.0.1 entry in our Rekor v1; with --tsa, an RFC 3161 timestamp from the
//       TSA (sigstore-js posts the JSON form to BASE-URL/api/v1/timestamp). Writes the bundle
//       JSON to OUT.
//   sigstore_js.js verify --trust-config TC.json --bundle B --artifact A --identity E --issuer I
//       @sigstore/verify Verifier over OUR trusted root (the `sigstore` package's verify()
//       only takes a trusted root from TUF): chain to our Fulcio CA, 1 SCT from our CT log,
//       1 Rekor entry (SET + inclusion proof + checkpoint), signature, then the policy
//       SAN == E (exact) and issuer extension == I.
//
// Exit status: 0 ok; 2 the policy (identity/issuer) refused the bundle; 1 any other error.
// The error's class, code and message go to stderr.
'use strict';

const fs = require('fs');

const { args, need } = require('./peer_cli');

function describe(err) {
  let s = `${err.name || 'Error'}${err.code ? ` [${err.code}]` : ''}: ${err.message}`;
  for (let c = err.cause, depth = 0; c && depth < 4; c = c.cause, depth++) {
    s += ` <- ${c.name || 'Error'}${c.code ? ` [${c.code}]` : ''}: ${c.message}`;
  }
  return s;
}

async function sign(a) {
  need(a, 'fulcio', 'rekor', 'token-file', 'artifact', 'bundle');
  const sigstore = require('sigstore');
  const bundle = await sigstore.sign(fs.readFileSync(a.artifact), {
    fulcioURL: a.fulcio,
    rekorURL: a.rekor,
    ...(a.tsa ? { tsaServerURL: a.tsa } : {}),
    identityToken: fs.readFileSync(a['token-file'], 'utf8').trim(),
    tlogUpload: true,
    // No retries: a retried Fulcio request would log a second precertificate.
    retry: 0,
    timeout: 60000,
  });
  fs.writeFileSync(a.bundle, JSON.stringify(bundle, null, 2));
  const vm = bundle.verificationMaterial;
  const tlog = (vm.tlogEntries || [])[0] || {};
  const key = vm.certificate ? 'certificate' : vm.x509CertificateChain ? 'x509CertificateChain' : 'no certificate';
  console.log(`bundle ${bundle.mediaType}, ${key}, ` +
    `tlog entry ${tlog.kindVersion ? `${tlog.kindVersion.kind} ${tlog.kindVersion.version}` : 'none'} ` +
    `logIndex ${tlog.logIndex}, ` +
    `${((vm.timestampVerificationData || {}).rfc3161Timestamps || []).length} RFC 3161 timestamp(s)`);
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function verify(a) {
  need(a, 'trust-config', 'bundle', 'artifact', 'identity', 'issuer');
  const { TrustedRoot } = require('@sigstore/protobuf-specs');
  const { bundleFromJSON } = require('@sigstore/bundle');
  const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

  const tc = JSON.parse(fs.readFileSync(a['trust-config'], 'utf8'));
  const root = TrustedRoot.fromJSON(tc.trustedRoot || tc);
  // Default thresholds: 1 SCT, 1 tlog entry, 1 timestamp (the Rekor integrated time).
  const verifier = new Verifier(toTrustMaterial(root));
  const entity = toSignedEntity(
    bundleFromJSON(JSON.parse(fs.readFileSync(a.bundle, 'utf8'))),
    fs.readFileSync(a.artifact)
  );
  const signer = verifier.verify(entity, {
    subjectAlternativeName: `^${escapeRegExp(a.identity)}$`,
    extensions: { issuer: a.issuer },
  });
  console.log(`verified: SAN ${signer.identity.subjectAlternativeName}, issuer ${signer.identity.extensions?.issuer}`);
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const a = args(rest);
  if (cmd === 'sign') return sign(a);
  if (cmd === 'verify') return verify(a);
  throw new Error(`usage: sigstore_js.js sign|verify ... (got ${cmd})`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(describe(err));
    process.exit(err && err.name === 'PolicyError' ? 2 : 1);
  }
);
