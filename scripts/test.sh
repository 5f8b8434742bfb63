#!/usr/bin/env bash
# The project's test command (README): both layers.
#   1. cargo test --workspace   (self-contained, no network)
#   2. scripts/interop.sh       (pinned upstream clients against our services)
# Set SKIP_INTEROP=1 to run only the first layer during development.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sigstack/target}"
scripts/deps.sh
cargo test --workspace
if [ "${SKIP_INTEROP:-0}" != "1" ]; then
  scripts/interop.sh
fi
