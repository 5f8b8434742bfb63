#!/usr/bin/env bash
# Stop the stack started by scripts/up.sh (state is kept; up.sh resumes it).
# Usage: scripts/down.sh [--state DIR]   (default $SIGSTACK_STATE or ./.sigstack)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SIGSTACK_STATE:-$ROOT/.sigstack}
[ "${1:-}" = --state ] && STATE=$2
RUN=$STATE/run
[ -d "$RUN" ] || { echo "down.sh: nothing to stop ($RUN does not exist)"; exit 0; }
pids=()
# Stop the TUF server and the CA first, the logs last (nothing writes to a stopped log).
for name in tuf-root fulcio timestamp-server rekor-server ctlog-server oidc-dev; do
    f=$RUN/$name.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" && pids+=("$pid") && echo "down.sh: stopping $name (pid $pid)"
    fi
    rm -f "$f"
done
# SIGTERM makes each service flush and exit; give them 10 s before SIGKILL.
for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && exit 0
    sleep 0.1
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
echo "down.sh: some services needed SIGKILL" >&2
