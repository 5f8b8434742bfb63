#!/usr/bin/env bash
# Benchmark the Rekor v1 log server (rekor-server) with scripts/loadgen.
#
#   scripts/bench-rekor.sh [--quick] [--no-build]
#
# Builds rekor-server and loadgen (release), starts the server on 127.0.0.1 with a temporary
# data dir and a fresh P-256 PKCS#8 key, then runs:
#   (a) closed-loop writes, $CONNECTIONS connections, $DURATION s, every response verified
#   (b) open-loop writes at $OPEN_RATE/s for $OPEN_DURATION s (latency from the schedule)
#   (c) fill to $READ_SIZE entries, then $READ_DURATION s of reads by random log index
#   (d) restart of the server on the filled data dir: time until /healthz answers
# and prints a summary (also written as JSON to $RESULTS).
#
# --quick: 10 s phases and a 100k fill (environment variables still override).
# Environment: DURATION (60), OPEN_RATE (1000), OPEN_DURATION (30), READ_SIZE (1000000),
#   READ_DURATION (30), CONNECTIONS (64), OPEN_CONNECTIONS (256), CLIENT_THREADS (1), PORT (random free port),
#   RESULTS (/tmp/bench-rekor-<time>.json), KEEP=1 keeps the temporary directory,
#   CARGO_TARGET_DIR (/root/.cache/sigstack/target).
# Exit status: 0 if every phase passed, 1 otherwise (the figures are printed either way).
set -euo pipefail

QUICK=0
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

if [[ $QUICK == 1 ]]; then
    DURATION=${DURATION:-10}
    OPEN_DURATION=${OPEN_DURATION:-10}
    READ_DURATION=${READ_DURATION:-10}
    READ_SIZE=${READ_SIZE:-100000}
fi
DURATION=${DURATION:-60}
OPEN_RATE=${OPEN_RATE:-1000}
OPEN_DURATION=${OPEN_DURATION:-30}
READ_SIZE=${READ_SIZE:-1000000}
READ_DURATION=${READ_DURATION:-30}
CONNECTIONS=${CONNECTIONS:-64}
# Enough connections that the open-loop schedule is not held up by the client (Little's law:
# rate x p99 latency); late sends are still measured from their scheduled time.
OPEN_CONNECTIONS=${OPEN_CONNECTIONS:-256}
CLIENT_THREADS=${CLIENT_THREADS:-1}
RESULTS=${RESULTS:-/tmp/bench-rekor-$(date +%Y%m%d-%H%M%S).json}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/sigstack/target}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$CARGO_TARGET_DIR/release
TREE_ID=1234567890
# The server requires the checkpoint hostname to appear in its base URL (sigstore-js rule).
HOSTNAME_=127.0.0.1

for tool in jq openssl curl; do
    command -v "$tool" >/dev/null || { echo "bench-rekor: $tool is required" >&2; exit 2; }
done

log() { printf '\n== %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -z ${PORT:-} ]]; then
    for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 20000))
        port_free "$PORT" && break
    done
fi
URL=http://127.0.0.1:$PORT

if [[ $BUILD == 1 ]]; then
    log "building rekor-server and loadgen (release)"
    # The same invocation as bench-fulcio.sh: one release build of RocksDB for both.
    (cd "$ROOT" && cargo build --release --workspace --bins)
fi
[[ -x $BIN/rekor-server && -x $BIN/loadgen ]] || { echo "bench-rekor: binaries missing in $BIN" >&2; exit 2; }

WORK=$(mktemp -d /tmp/bench-rekor.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/key.pem" 2>/dev/null
mkdir -p "$WORK/data"

start_server() {
    "$BIN/rekor-server" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
        --signing-key "$WORK/key.pem" --hostname "$HOSTNAME_" --base-url "$URL" --tree-id "$TREE_ID" \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
}

# Waits for /healthz (polling every 5 ms); prints the milliseconds since $1.
wait_healthy() {
    local t0=$1 deadline=$(($(now_ms) + 300000))
    until curl -sf -o /dev/null --max-time 1 "$URL/healthz"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "bench-rekor: rekor-server exited; log:" >&2
            tail -n 30 "$WORK/server.log" >&2
            exit 1
        fi
        if (($(now_ms) > deadline)); then
            echo "bench-rekor: /healthz did not answer within 300 s" >&2
            exit 1
        fi
        sleep 0.005
    done
    echo $(($(now_ms) - t0))
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

FAILED=0
# phase NAME SUBCOMMAND loadgen-args...: JSON to $WORK/NAME.json, the table to the terminal.
phase() {
    local name=$1
    shift
    local rc=0
    "$BIN/loadgen" "$@" --url "$URL" --server-pid "$SERVER_PID" \
        --client-threads "$CLIENT_THREADS" --json >"$WORK/$name.json" || rc=$?
    if [[ $rc != 0 ]]; then
        FAILED=1
        echo "bench-rekor: phase $name exited with $rc" >&2
        [[ -s $WORK/$name.json ]] || echo '{"result":"FAILED","failures":["loadgen error"]}' >"$WORK/$name.json"
    fi
}

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_BEFORE" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench-rekor: warning: load average is $LOAD_BEFORE before the run; other processes will skew the figures" >&2
fi

log "starting rekor-server on $URL (data dir $WORK/data)"
t0=$(now_ms)
start_server
STARTUP_MS=$(wait_healthy "$t0")
echo "ready in $STARTUP_MS ms (empty log)" >&2

log "(a) closed-loop writes: $CONNECTIONS connections, ${DURATION}s, --verify"
phase write rekor-write --connections "$CONNECTIONS" --duration "${DURATION}s" --verify

log "(b) open-loop writes: ${OPEN_RATE}/s for ${OPEN_DURATION}s, $OPEN_CONNECTIONS connections"
phase open rekor-write --connections "$OPEN_CONNECTIONS" --duration "${OPEN_DURATION}s" --rate "$OPEN_RATE" --verify

log "(c) fill to $READ_SIZE entries"
phase fill rekor-fill --connections "$CONNECTIONS" --to-size "$READ_SIZE"
RSS_AFTER_FILL_KIB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
HWM_AFTER_FILL_KIB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")

log "(c) reads: $CONNECTIONS connections, ${READ_DURATION}s"
phase read rekor-read --connections "$CONNECTIONS" --duration "${READ_DURATION}s" --verify

log "(d) restart on the filled data dir"
t0=$(now_ms)
stop_server
STOP_MS=$(($(now_ms) - t0))
DATA_DIR_MIB=$(du -sm "$WORK/data" | cut -f1)
t0=$(now_ms)
start_server
RESTART_MS=$(wait_healthy "$t0")
TREE_AFTER_RESTART=$(curl -sf "$URL/api/v1/log" | jq '.treeSize')
RSS_AFTER_RESTART_KIB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
echo "stopped in $STOP_MS ms; /healthz after $RESTART_MS ms; tree size $TREE_AFTER_RESTART" >&2

jq -n \
    --slurpfile a "$WORK/write.json" --slurpfile b "$WORK/open.json" \
    --slurpfile f "$WORK/fill.json" --slurpfile r "$WORK/read.json" \
    --argjson quick "$QUICK" --argjson startup_ms "$STARTUP_MS" \
    --argjson stop_ms "$STOP_MS" --argjson restart_ms "$RESTART_MS" \
    --argjson tree_after_restart "${TREE_AFTER_RESTART:-null}" \
    --argjson rss_after_fill_kib "$RSS_AFTER_FILL_KIB" --argjson hwm_after_fill_kib "$HWM_AFTER_FILL_KIB" \
    --argjson rss_after_restart_kib "$RSS_AFTER_RESTART_KIB" --argjson data_dir_mib "$DATA_DIR_MIB" \
    --arg load "$LOAD_BEFORE" --arg nproc "$(nproc)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
    '{quick: ($quick == 1), machine: {nproc: ($nproc | tonumber), cpu: $cpu, load_before: ($load | tonumber)},
      write_closed: $a[0], write_open: $b[0], fill: $f[0], read: $r[0],
      restart: {startup_empty_ms: $startup_ms, stop_ms: $stop_ms, healthz_ms: $restart_ms,
                tree_size: $tree_after_restart, data_dir_mib: $data_dir_mib,
                rss_after_fill_kib: $rss_after_fill_kib, peak_rss_after_fill_kib: $hwm_after_fill_kib,
                rss_after_restart_kib: $rss_after_restart_kib}}' >"$RESULTS"

jq -r '
  def f(x; d): if x == null then "-" else (x * pow(10; d) | round / pow(10; d) | tostring) end;
  def mib(x): if x == null then "-" else f(x / 1024; 1) + " MiB" end;
  def lat(x): "p50 \(f(x.latency_ms.p50; 1))  p90 \(f(x.latency_ms.p90; 1))  p99 \(f(x.latency_ms.p99; 1))  max \(f(x.latency_ms.max; 1)) ms";
  def errs(x): "errors \(x.error_total // "-") \(x.errors // {} | tostring)";
  "",
  "==================== rekor-server benchmark \(if .quick then "(quick)" else "" end) ====================",
  "machine: \(.machine.nproc) cores, \(.machine.cpu); load average before the run \(.machine.load_before)",
  "(a) closed-loop write   \(f(.write_closed.throughput; 1)) entries/s  \(lat(.write_closed))",
  "                        \(errs(.write_closed))  verified \(.write_closed.verified // "-")  verify failures \(.write_closed.verify_failed // "-")  [\(.write_closed.result)]",
  "                        server CPU \(f(.write_closed.server.cpu_cores; 2)) cores, peak RSS \(mib(.write_closed.server.rss_peak_kib)); client CPU \(f(.write_closed.client_cpu_cores; 2)) cores",
  "(b) open-loop \(f(.write_open.target_rate; 0))/s      achieved \(f(.write_open.throughput; 1))/s  \(lat(.write_open))",
  "                        \(errs(.write_open))  late sends \(.write_open.late_sends // "-")  verify failures \(.write_open.verify_failed // "-")  [\(.write_open.result)]",
  "(c) fill                \(.fill.ok // "-") entries in \(f(.fill.elapsed_s; 1)) s = \(f(.fill.throughput; 1)) entries/s  \(errs(.fill))  tree \(.fill.tree_size_end // "-")  [\(.fill.result)]",
  "(c) read                \(f(.read.throughput; 1)) reads/s  \(lat(.read))  \(errs(.read))  [\(.read.result)]",
  "(d) restart             /healthz after \(.restart.healthz_ms) ms (stop took \(.restart.stop_ms) ms; empty-log start \(.restart.startup_empty_ms) ms); tree \(.restart.tree_size); data dir \(.restart.data_dir_mib) MiB",
  "    memory              RSS after fill \(mib(.restart.rss_after_fill_kib)) (peak \(mib(.restart.peak_rss_after_fill_kib))); after restart \(mib(.restart.rss_after_restart_kib))",
  "results: '"$RESULTS"'"
' "$RESULTS"

if [[ $FAILED == 1 ]]; then
    echo "bench-rekor: FAILED (see the phase tables above)" >&2
    exit 1
fi
