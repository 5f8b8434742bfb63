#!/usr/bin/env bash
# Benchmark `cosign verify-blob` per process, offline (a bundle and a trusted root file):
# our cosign (release) and Go cosign on the same files, interleaved in one run.
#
#   scripts/bench-verify.sh [--quick] [--no-build]
#
# Files: sigstore-python's staging bundle (v0.3, Rekor v1 entry with SET and inclusion proof,
# Fulcio certificate with an SCT), its artifact and the staging trusted root, under
# core/tests/data. Each tool runs N times (50; --quick 10), alternating, with HOME and TUF_ROOT
# in an empty temp dir; every run must print "Verified OK". Prints median and p90 wall time per
# process and the ratio Go / ours. Target (issue 6): ours <= 20 ms median.
#
# Go cosign: $COSIGN (default: the interop's pinned build, ~/.cache/sigstack/go/cosign-v3.0.6/cosign,
# `go install`ed here if missing). Environment: CARGO_TARGET_DIR for the release build
# (default /root/.cache/sigstack/target-bench), RUNS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SIGSTACK_CACHE:-$HOME/.cache/sigstack}
COSIGN_VERSION=v3.0.6
COSIGN=${COSIGN:-$CACHE/go/cosign-$COSIGN_VERSION/cosign}
RUNS=${RUNS:-50}
BUILD=1
for arg in "$@"; do
    case "$arg" in
    --quick) RUNS=10 ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/sigstack/target-bench}
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release --workspace --bins) >&2
fi
OURS="$CARGO_TARGET_DIR/release/cosign"
[ -x "$OURS" ] || { echo "no $OURS (build with cargo build --release --workspace --bins)" >&2; exit 1; }
if [ ! -x "$COSIGN" ]; then
    echo "installing Go cosign $COSIGN_VERSION into $(dirname "$COSIGN")" >&2
    mkdir -p "$(dirname "$COSIGN")"
    (cd /tmp && GOBIN="$(dirname "$COSIGN")" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
        go install "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION") >&2
fi

D="$ROOT/core/tests/data/upstream/sigstore-python"
ARGS=(verify-blob --trusted-root "$D/trusted_root.sigstage.json" --bundle "$D/bundle_v3.txt.sigstore"
    --certificate-identity william@yossarian.net --certificate-oidc-issuer https://github.com/login/oauth
    "$D/bundle_v3.txt")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# one TOOL: wall time of one verification in microseconds; fails unless it verified
one() {
    local t0 t1
    t0=$(date +%s%N)
    HOME="$W" TUF_ROOT="$W/tuf" "$1" "${ARGS[@]}" >"$W/out" 2>&1 || { cat "$W/out" >&2; return 1; }
    t1=$(date +%s%N)
    grep -q "Verified OK" "$W/out" || { cat "$W/out" >&2; return 1; }
    echo $(((t1 - t0) / 1000))
}
: >"$W/ours"
: >"$W/go"
for _ in $(seq "$RUNS"); do
    one "$OURS" >>"$W/ours"
    one "$COSIGN" >>"$W/go"
done
stat() { # FILE -> "median p90" in ms with one decimal
    sort -n "$1" | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.9+0.999)]; printf "%.1f %.1f\n", m/1000, p/1000}'
}
read -r om op <<<"$(stat "$W/ours")"
read -r gm gp <<<"$(stat "$W/go")"
echo "verify-blob, offline (bundle + trusted root file), $RUNS runs each, $(nproc) cores, $(date -u +%F)"
printf '%-28s %10s %10s\n' tool "median ms" "p90 ms"
printf '%-28s %10s %10s\n' "ours (sigstack cosign)" "$om" "$op"
printf '%-28s %10s %10s\n' "Go cosign $COSIGN_VERSION" "$gm" "$gp"
awk -v o="$om" -v g="$gm" 'BEGIN { printf "ratio Go/ours (median): %.1fx\n", g / o }'
