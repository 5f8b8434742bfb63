#!/usr/bin/env bash
# Fuzz the bundle parser and verifier (core/fuzz, target `bundle`) with cargo-fuzz.
#   scripts/fuzz.sh [SECONDS]     default 600
# Needs a nightly toolchain (rustup toolchain install nightly); installs cargo-fuzz
# (pinned) if missing. The working corpus and the build live outside the clone
# (${SIGSTACK_CACHE:-~/.cache/sigstack}/fuzz), seeded with the upstream bundles under
# core/tests/data. A crash leaves its input in core/fuzz/artifacts/bundle/: turn it
# into a regression test in core/src/verify/tests.rs before fixing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-600}
CACHE=${SIGSTACK_CACHE:-$HOME/.cache/sigstack}
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
CORPUS="$CACHE/fuzz/corpus/bundle"
mkdir -p "$CORPUS"
find "$ROOT/core/tests/data" "$ROOT/scripts/interop/testdata" -name '*.sigstore*' -exec cp -n {} "$CORPUS/" \;
cd "$ROOT/core"
CARGO_TARGET_DIR="$CACHE/fuzz/target" cargo +nightly fuzz run bundle "$CORPUS" -- \
    -max_total_time="$SECS" -max_len=65536 -timeout=10
