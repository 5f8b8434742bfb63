#!/usr/bin/env bash
# Benchmark certificate issuance: fulcio (file CA) + ctlog-server, driven by scripts/loadgen.
#
#   scripts/bench-fulcio.sh [--quick] [--no-build]
#
# Builds fulcio, ctlog-server and loadgen (release, `cargo build --release --workspace --bins`,
# the same invocation as bench-rekor.sh so RocksDB is compiled once), creates a CA with
# `fulcio ca create`, starts the CT log (trusting that root) and Fulcio (its issuer is the
# load generator's built-in OIDC issuer), then runs:
#   (a) closed loop, $CONNECTIONS connections (32), $DURATION s: issuance rate and latency,
#       every reply checked (chain + exactly one embedded SCT)
#   (b) open loop at $OPEN_RATE/s (1000) for $OPEN_DURATION s: latency at a fixed rate
# Every certificate goes through the CT log (add-pre-chain) before it is returned.
#
# Side by side: with --upstream, upstream Fulcio ($UPSTREAM_FULCIO_VERSION, `go install`ed into
# ~/.cache/sigstack/go, `--ca ephemeralca`) runs the same closed-loop phase against a second
# ctlog-server of ours that trusts its root (upstream needs a CT log too), and the ratio is printed.
#
# --quick: 10 s phases. Environment: DURATION (60), OPEN_RATE (1000), OPEN_DURATION (30),
#   CONNECTIONS (32), KEEP=1 keeps the work dir, CARGO_TARGET_DIR (/root/.cache/sigstack/target).
set -euo pipefail

QUICK=0
BUILD=1
UPSTREAM=0
UPSTREAM_FULCIO_VERSION=v1.8.8
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --upstream) UPSTREAM=1 ;;
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
fi
DURATION=${DURATION:-60}
OPEN_RATE=${OPEN_RATE:-1000}
OPEN_DURATION=${OPEN_DURATION:-30}
CONNECTIONS=${CONNECTIONS:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/sigstack/target}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$CARGO_TARGET_DIR/release

log() { printf '\n== %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ $BUILD == 1 ]]; then
    log "building (release)"
    (cd "$ROOT" && cargo build --release --workspace --bins)
fi
for b in fulcio ctlog-server loadgen; do
    [[ -x $BIN/$b ]] || { echo "bench-fulcio: $BIN/$b missing" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/bench-fulcio.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_healthy() { # URL PID NAME
    for _ in $(seq 600); do
        curl -sf -o /dev/null --max-time 1 "$1/healthz" && return 0
        kill -0 "$2" 2>/dev/null || { echo "bench-fulcio: $3 exited:" >&2; tail -20 "$WORK/$3.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "bench-fulcio: $3 not healthy" >&2
    exit 1
}

FULCIO_CA_PASSPHRASE=bench "$BIN/fulcio" ca create --out-dir "$WORK/ca" >/dev/null
CT_PORT=$(free_port)
OIDC_PORT=$(free_port)
F_PORT=$(free_port)
"$BIN/ctlog-server" --listen "127.0.0.1:$CT_PORT" --data-dir "$WORK/ctlog" \
    --roots-pem-file "$WORK/ca/root.crt.pem" >"$WORK/ctlog.log" 2>&1 &
CT_PID=$!
PIDS+=("$CT_PID")
wait_healthy "http://127.0.0.1:$CT_PORT" "$CT_PID" ctlog
openssl pkey -in "$WORK/ctlog/ctlog-key.pem" -pubout -out "$WORK/ctlog-pub.pem" 2>/dev/null
echo "{\"OIDCIssuers\":{\"http://127.0.0.1:$OIDC_PORT\":{\"IssuerURL\":\"http://127.0.0.1:$OIDC_PORT\",\"ClientID\":\"sigstore\",\"Type\":\"email\"}}}" >"$WORK/issuers.json"
FULCIO_SERVE_FILECA_KEY_PASSWD=bench "$BIN/fulcio" serve --port "$F_PORT" --config-path "$WORK/issuers.json" \
    --ca fileca --fileca-cert "$WORK/ca/chain.pem" --fileca-key "$WORK/ca/intermediate.key.pem" \
    --ct-log-url "http://127.0.0.1:$CT_PORT" --ct-log-public-key-path "$WORK/ctlog-pub.pem" \
    >"$WORK/fulcio.log" 2>&1 &
F_PID=$!
PIDS+=("$F_PID")
wait_healthy "http://127.0.0.1:$F_PORT" "$F_PID" fulcio

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1 /proc/loadavg)" >&2
echo "fulcio pid $F_PID, ctlog-server pid $CT_PID (server CPU below is Fulcio's; the CT log's is reported separately)" >&2
ct_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$CT_PID/stat"; }
RC=0
OIDC_NEXT=$OIDC_PORT
phase() { # NAME loadgen-args...
    local name=$1 c0 c1
    shift
    log "$name"
    c0=$(ct_cpu)
    "$BIN/loadgen" fulcio-issue --url "http://127.0.0.1:$F_PORT" --oidc-listen "127.0.0.1:$OIDC_NEXT" \
        --server-pid "$F_PID" --verify "$@" || RC=1
    c1=$(ct_cpu)
    echo "  ctlog-server CPU  $(echo "$c1 - $c0" | bc) s" >&2
}
phase "(a) closed loop, $CONNECTIONS connections, ${DURATION}s" --connections "$CONNECTIONS" --duration "${DURATION}s"
phase "(b) open loop, $OPEN_RATE/s, ${OPEN_DURATION}s" --connections 256 --rate "$OPEN_RATE" --duration "${OPEN_DURATION}s"
STH=$(curl -sf "http://127.0.0.1:$CT_PORT/ct/v1/get-sth" | jq -r .tree_size)
echo "CT log tree size after the run: $STH (one precertificate per issued certificate)" >&2

if [[ $UPSTREAM == 1 ]]; then
    UP_DIR=${SIGSTACK_CACHE:-$HOME/.cache/sigstack}/go/fulcio-$UPSTREAM_FULCIO_VERSION
    if [[ ! -x $UP_DIR/fulcio ]]; then
        log "go install github.com/sigstore/fulcio@$UPSTREAM_FULCIO_VERSION"
        mkdir -p "$UP_DIR"
        (cd "$WORK" && GOBIN="$UP_DIR" GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "github.com/sigstore/fulcio@$UPSTREAM_FULCIO_VERSION")
    fi
    kill "$F_PID" 2>/dev/null || true
    U_PORT=$(free_port)
    U_OIDC=$(free_port)
    U_CT=$(free_port)
    echo "{\"OIDCIssuers\":{\"http://127.0.0.1:$U_OIDC\":{\"IssuerURL\":\"http://127.0.0.1:$U_OIDC\",\"ClientID\":\"sigstore\",\"Type\":\"email\"}}}" >"$WORK/up-issuers.json"
    "$UP_DIR/fulcio" serve --host 127.0.0.1 --port "$U_PORT" --grpc-port "$(free_port)" --metrics-port "$(free_port)" \
        --ca ephemeralca --config-path "$WORK/up-issuers.json" --ct-log-url "http://127.0.0.1:$U_CT" \
        --log_type prod >"$WORK/upstream.log" 2>&1 &
    U_PID=$!
    PIDS+=("$U_PID")
    wait_healthy "http://127.0.0.1:$U_PORT" "$U_PID" upstream
    curl -sf "http://127.0.0.1:$U_PORT/api/v1/rootCert" >"$WORK/up-root.pem"
    "$BIN/ctlog-server" --listen "127.0.0.1:$U_CT" --data-dir "$WORK/ctlog-up" \
        --roots-pem-file "$WORK/up-root.pem" >"$WORK/ctlog-up.log" 2>&1 &
    UCT_PID=$!
    PIDS+=("$UCT_PID")
    wait_healthy "http://127.0.0.1:$U_CT" "$UCT_PID" ctlog-up
    log "(c) upstream Fulcio $UPSTREAM_FULCIO_VERSION (ephemeralca) + our CT log, closed loop, $CONNECTIONS connections, ${DURATION}s"
    "$BIN/loadgen" fulcio-issue --url "http://127.0.0.1:$U_PORT" --oidc-listen "127.0.0.1:$U_OIDC" \
        --server-pid "$U_PID" --verify --connections "$CONNECTIONS" --duration "${DURATION}s" --json >"$WORK/up.json" || RC=1
    log "(d) ours again (same machine, right after), closed loop, $CONNECTIONS connections, ${DURATION}s"
    F2_PORT=$(free_port)
    FULCIO_SERVE_FILECA_KEY_PASSWD=bench "$BIN/fulcio" serve --port "$F2_PORT" --config-path "$WORK/issuers.json" \
        --ca fileca --fileca-cert "$WORK/ca/chain.pem" --fileca-key "$WORK/ca/intermediate.key.pem" \
        --ct-log-url "http://127.0.0.1:$CT_PORT" --ct-log-public-key-path "$WORK/ctlog-pub.pem" \
        >"$WORK/fulcio2.log" 2>&1 &
    F2_PID=$!
    PIDS+=("$F2_PID")
    wait_healthy "http://127.0.0.1:$F2_PORT" "$F2_PID" fulcio2
    "$BIN/loadgen" fulcio-issue --url "http://127.0.0.1:$F2_PORT" --oidc-listen "127.0.0.1:$OIDC_PORT" \
        --server-pid "$F2_PID" --verify --connections "$CONNECTIONS" --duration "${DURATION}s" --json >"$WORK/ours.json" || RC=1
    jq -rn --slurpfile u "$WORK/up.json" --slurpfile o "$WORK/ours.json" '
      def f(x): (x * 10 | round) / 10;
      "\nissuance, closed loop   ours            upstream        ratio",
      "throughput (certs/s)    \(f($o[0].throughput))  \(f($u[0].throughput))  \(f($o[0].throughput / $u[0].throughput))x",
      "p50 latency (ms)        \(f($o[0].latency_ms.p50))  \(f($u[0].latency_ms.p50))",
      "p99 latency (ms)        \(f($o[0].latency_ms.p99))  \(f($u[0].latency_ms.p99))",
      "server CPU (cores)      \(f($o[0].server.cpu_cores))  \(f($u[0].server.cpu_cores))",
      "server peak RSS (MiB)   \(f($o[0].server.rss_peak_kib / 1024))  \(f($u[0].server.rss_peak_kib / 1024))",
      "failures                \($o[0].error_total + $o[0].verify_failed)  \($u[0].error_total + $u[0].verify_failed)"' >&2 || cat "$WORK/up.json" "$WORK/ours.json" >&2
fi
exit $RC
