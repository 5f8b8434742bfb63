// Command-line parsing shared by the node peers of scripts/interop.sh (test glue, CommonJS).
'use strict';

// `--name value` pairs into {name: value}; anything else is an error.
function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

function need(a, ...names) {
  for (const n of names) if (!a[n]) throw new Error(`missing --${n}`);
}

module.exports = { args, need };
