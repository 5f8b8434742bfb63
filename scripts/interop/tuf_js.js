#!/usr/bin/env node
// tuf-js and sigstore-js (TUF path) peer for the TUF section of scripts/interop.sh
// (test glue, CommonJS). The pinned packages live outside the clone: run with
// NODE_PATH=<sigstore-js prefix>/node_modules (tuf-js is pinned there too).
//
//   tuf_js.js update --metadata-dir M --url URL --target-dir T [--seed-root ROOT.json]
//                    [--download NAME[,NAME...]]
//       tuf-js Updater({metadataDir: M, metadataBaseUrl: URL, targetBaseUrl: URL/targets/,
//       targetDir: T}). tuf-js has no bootstrap argument: M must hold root.json; with
//       --seed-root it is copied there first (refused if M/root.json already exists, so a
//       second run really updates from the client's own cache). refresh(), then
//       getTargetInfo + downloadTarget(info, T/NAME) for every NAME.
//       stdout: one JSON line {root, timestamp, snapshot, targets, downloaded: {NAME: path}}
//       with the versions of the metadata tuf-js persisted in M.
//   tuf_js.js sigstore-verify --mirror URL --root ROOT.json --cache DIR --bundle B
//                    --artifact A --identity EMAIL --issuer ISSUER
//       sigstore.verify(bundle, artifact, {tufMirrorURL, tufRootPath, tufCachePath,
//       certificateIdentityEmail, certificateIssuer}): @sigstore/tuf fetches trusted_root.json
//       from our TUF repository, then the full verification (chain, SCT, tlog, identity).
//
// Exit status: 0 ok; 2 the identity policy refused the bundle; 3 refused by a TUF rule
// (a tuf-js RepositoryError); 4 a download error; 5 target not listed; 1 anything else.
// The error's class, code and message go to stderr.
'use strict';

const fs = require('fs');
const path = require('path');

const { args, need } = require('./peer_cli');

function describe(err) {
  let s = `${err.constructor && err.constructor.name !== 'Error' ? err.constructor.name : err.name || 'Error'}` +
    `${err.code ? ` [${err.code}]` : ''}: ${err.message}`;
  for (let c = err.cause, depth = 0; c && depth < 4; c = c.cause, depth++) {
    s += ` <- ${c.constructor ? c.constructor.name : c.name || 'Error'}${c.code ? ` [${c.code}]` : ''}: ${c.message}`;
  }
  return s;
}

function versions(dir) {
  const out = {};
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    try {
      const signed = JSON.parse(fs.readFileSync(path.join(dir, `${role}.json`), 'utf8')).signed;
      out[role] = signed.version;
      if (role === 'root') out.root_expires = signed.expires;
    } catch (e) {
      out[role] = null;
    }
  }
  return out;
}

class Exit extends Error {
  constructor(code, message) {
    super(message);
    this.exitCode = code;
  }
}

async function update(a) {
  need(a, 'metadata-dir', 'url', 'target-dir');
  const { Updater } = require('tuf-js');
  const M = a['metadata-dir'];
  const T = a['target-dir'];
  fs.mkdirSync(M, { recursive: true });
  fs.mkdirSync(T, { recursive: true });
  if (a['seed-root']) {
    if (fs.existsSync(path.join(M, 'root.json'))) throw new Error(`${M}/root.json exists: refusing to re-seed`);
    fs.copyFileSync(a['seed-root'], path.join(M, 'root.json'));
  }
  const url = a.url.replace(/\/+$/, '');
  const updater = new Updater({
    metadataDir: M,
    metadataBaseUrl: url,
    targetBaseUrl: `${url}/targets/`,
    targetDir: T,
    config: { fetchRetry: 0, fetchTimeout: 20000 },
  });
  await updater.refresh();
  const downloaded = {};
  for (const name of (a.download || '').split(',').filter(Boolean)) {
    const info = await updater.getTargetInfo(name);
    if (!info) throw new Exit(5, `target ${name} is not listed`);
    downloaded[name] = await updater.downloadTarget(info, path.join(T, name));
  }
  console.log(JSON.stringify({ ...versions(M), downloaded }));
}

async function sigstoreVerify(a) {
  need(a, 'mirror', 'root', 'cache', 'bundle', 'artifact', 'identity', 'issuer');
  const sigstore = require('sigstore');
  const bundle = JSON.parse(fs.readFileSync(a.bundle, 'utf8'));
  const signer = await sigstore.verify(bundle, fs.readFileSync(a.artifact), {
    tufMirrorURL: a.mirror,
    tufRootPath: a.root,
    tufCachePath: a.cache,
    certificateIdentityEmail: a.identity,
    certificateIssuer: a.issuer,
    retry: 0,
    timeout: 20000,
  });
  console.log(`verified: SAN ${signer.identity && signer.identity.subjectAlternativeName}, ` +
    `issuer ${signer.identity && signer.identity.extensions && signer.identity.extensions.issuer}`);
}

function exitCode(err) {
  if (err instanceof Exit) return err.exitCode;
  if (err && err.name === 'PolicyError') return 2;
  let tufErrors = {};
  let modelErrors = {};
  try { tufErrors = require('tuf-js/dist/error'); } catch (e) { /* not installed */ }
  try { modelErrors = require('@tufjs/models/dist/error'); } catch (e) { /* not installed */ }
  for (let c = err, depth = 0; c && depth < 5; c = c.cause, depth++) {
    if ((tufErrors.RepositoryError && c instanceof tufErrors.RepositoryError) ||
      (modelErrors.RepositoryError && c instanceof modelErrors.RepositoryError)) return 3;
    if (tufErrors.DownloadError && c instanceof tufErrors.DownloadError) return 4;
  }
  return 1;
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const a = args(rest);
  if (cmd === 'update') return update(a);
  if (cmd === 'sigstore-verify') return sigstoreVerify(a);
  throw new Error(`usage: tuf_js.js update|sigstore-verify ... (got ${cmd})`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(describe(err));
    process.exit(exitCode(err));
  }
);
