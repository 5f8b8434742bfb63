#!/usr/bin/env bash
# Start the whole private Sigstore stack on this machine (loopback only):
#   oidc-dev (development OIDC issuer), ctlog-server (CT log), rekor-server (Rekor v1, and
#   Rekor v2 / tlog-tiles at <rekor>/v2),
#   fulcio (CA, embedded SCTs from the CT log), timestamp-server (RFC 3161 TSA),
#   tuf-root serve (TUF repository with trusted_root.json and signing_config.v0.2.json).
#
# First run: builds, creates every key and the trust root in the state directory
# (default ./.sigstack, or $SIGSTACK_STATE, or --state DIR). Later runs reuse the
# state (same keys, same logs) and start only what is not already running and healthy,
# so after a crash or `kill` of one service, `scripts/up.sh` brings it back.
# Keys are never overwritten. `scripts/down.sh` stops everything.
#
# Writes <state>/env (source it) and prints URLs, file paths and ready-to-paste commands.
#
# Knobs (environment):
#   SIGSTACK_STATE                 state directory (default ./.sigstack)
#   SIGSTACK_PROFILE=release       build and run release binaries (default: the test build,
#                                  shared with `cargo test --workspace`, so nothing compiles twice)
#   SIGSTACK_NO_BUILD=1            do not run cargo (binaries must exist)
#   SIGSTACK_BIN_DIR               use binaries from this directory (implies no build)
#   SIGSTACK_{OIDC,CTLOG,REKOR,FULCIO,TSA,TUF}_PORT   ports (defaults 8085 6962 3000 5555 3004 8081)
#   SIGSTACK_EXTRA_OIDC_ISSUERS    space-separated issuer URLs Fulcio also trusts (type email,
#                                  client ID sigstore), e.g. an oidc-provider-mock
#   SIGSTACK_OPERATOR              operator name in signing_config (default sigstack.local)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SIGSTACK_STATE:-$ROOT/.sigstack}
while [ $# -gt 0 ]; do
    case "$1" in
    --state) STATE=$2; shift 2 ;;
    --state=*) STATE=${1#--state=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "up.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
HOST=127.0.0.1
OIDC_PORT=${SIGSTACK_OIDC_PORT:-8085}
CTLOG_PORT=${SIGSTACK_CTLOG_PORT:-6962}
REKOR_PORT=${SIGSTACK_REKOR_PORT:-3000}
FULCIO_PORT=${SIGSTACK_FULCIO_PORT:-5555}
TSA_PORT=${SIGSTACK_TSA_PORT:-3004}
TUF_PORT=${SIGSTACK_TUF_PORT:-8081}
OPERATOR=${SIGSTACK_OPERATOR:-sigstack.local}
OIDC_URL="http://$HOST:$OIDC_PORT"
CTLOG_URL="http://$HOST:$CTLOG_PORT"
REKOR_URL="http://$HOST:$REKOR_PORT"
FULCIO_URL="http://$HOST:$FULCIO_PORT"
TSA_URL="http://$HOST:$TSA_PORT"
TUF_URL="http://$HOST:$TUF_PORT"

die() { echo "up.sh: $*" >&2; exit 1; }
say() { echo "up.sh: $*" >&2; }

# What a clean Debian/Ubuntu machine lacks for the build and this script
# (libclang for RocksDB's bindings, curl, openssl) comes from scripts/deps.sh.
if [ -z "${SIGSTACK_BIN_DIR:-}" ] && [ "${SIGSTACK_NO_BUILD:-0}" != 1 ] && command -v dpkg >/dev/null &&
    ! dpkg -s libclang-dev >/dev/null 2>&1; then
    say "installing build dependencies (scripts/deps.sh)"
    "$ROOT/scripts/deps.sh" >&2 || die "scripts/deps.sh failed; install libclang-dev, clang, curl and openssl"
fi
for tool in curl openssl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian/Ubuntu: sudo apt-get install $tool; or run scripts/deps.sh)"
done

# ----------------------------------------------------------------------------- build
if [ -n "${SIGSTACK_BIN_DIR:-}" ]; then
    BIN=$SIGSTACK_BIN_DIR
elif [ "${SIGSTACK_PROFILE:-}" = release ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sigstack/target-bench}
    BIN=$CARGO_TARGET_DIR/release
    if [ "${SIGSTACK_NO_BUILD:-0}" != 1 ]; then
        command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs), or set SIGSTACK_BIN_DIR"
        say "building (release)..."
        (cd "$ROOT" && cargo build --release --workspace --bins >"$STATE/build.log" 2>&1) ||
            die "build failed; last lines of $STATE/build.log:
$(tail -n 20 "$STATE/build.log")"
    fi
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sigstack/target}
    BIN=$CARGO_TARGET_DIR/debug
    if [ "${SIGSTACK_NO_BUILD:-0}" != 1 ]; then
        command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs), or set SIGSTACK_BIN_DIR"
        say "building..."
        # The test build: it builds every service binary with the exact feature set of
        # `cargo test --workspace`, so RocksDB's C++ is compiled once for both.
        (cd "$ROOT" && cargo test --workspace --no-run >"$STATE/build.log" 2>&1) ||
            die "build failed; last lines of $STATE/build.log:
$(tail -n 20 "$STATE/build.log")"
    fi
fi
for b in oidc-dev ctlog-server rekor-server fulcio timestamp-server tuf-root; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing (build failed, or SIGSTACK_BIN_DIR is wrong)"
done
T0=$(date +%s%N)

# ----------------------------------------------------------------------------- state
RUN=$STATE/run
LOGS=$STATE/logs
mkdir -p "$RUN" "$LOGS" "$STATE/keys"
chmod 700 "$STATE" "$STATE/keys"
# A state dir is either empty (first run) or complete. A half-made one (a crash during
# the first run, files removed by hand) is reported, never "repaired" by new keys.
if [ -f "$STATE/initialized" ]; then
    for f in fulcio/ca/chain.pem fulcio/ca/intermediate.key.pem fulcio/config.json \
        ctlog/ctlog-key.pem rekor/log-key.pem oidc/issuer-key.pem tuf/tuf-root.toml tuf/repository/1.root.json; do
        [ -e "$STATE/$f" ] || die "state dir $STATE is incomplete: $f is missing.
  Restore it from a backup, or move the state dir away to start a new stack (new keys, empty logs)."
    done
elif [ -e "$STATE/fulcio/ca" ] || [ -e "$STATE/tuf" ] || [ -e "$STATE/rekor" ]; then
    die "state dir $STATE holds a partial first run (no $STATE/initialized).
  Move it away (or delete it: it holds no log entries yet) and run up.sh again."
fi

# Alive = the recorded process exists and is not a zombie (a killed service whose
# parent, this script's earlier run, is gone may linger unreaped as Z).
pid_alive() {
    local pid
    [ -f "$RUN/$1.pid" ] && pid=$(cat "$RUN/$1.pid") && kill -0 "$pid" 2>/dev/null &&
        ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null
}
healthy() { curl -fsS --max-time 2 "$1" >/dev/null 2>&1; }
port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# start NAME PORT HEALTH-URL CMD...: unless NAME is running and healthy, start it.
start() {
    local name=$1 port=$2 health=$3
    shift 3
    if pid_alive "$name"; then
        if healthy "$health"; then
            say "$name already running (pid $(cat "$RUN/$name.pid"))"
            return
        fi
        die "$name (pid $(cat "$RUN/$name.pid")) is running but not healthy at $health; see $LOGS/$name.log, or scripts/down.sh"
    fi
    port_free "$port" || die "port $port ($name) is already in use by another program"
    # setsid: the services outlive this script and its terminal.
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

# wait_healthy NAME URL: up to 10 s.
wait_healthy() {
    local name=$1 url=$2 i
    for i in $(seq 1 200); do
        healthy "$url" && return 0
        pid_alive "$name" || die "$name exited during start-up; last lines of $LOGS/$name.log:
$(tail -n 15 "$LOGS/$name.log")"
        sleep 0.05
    done
    die "$name did not become healthy at $url within 10 s; see $LOGS/$name.log"
}

# Every port first, so that a taken port never leaves a half-made state dir behind.
for np in oidc-dev:$OIDC_PORT ctlog-server:$CTLOG_PORT rekor-server:$REKOR_PORT fulcio:$FULCIO_PORT timestamp-server:$TSA_PORT tuf-root:$TUF_PORT; do
    name=${np%%:*} port=${np##*:}
    if ! pid_alive "$name" && ! port_free "$port"; then
        var=$(echo "$name" | tr a-z- A-Z_ | sed 's/^TIMESTAMP_SERVER$/TSA/;s/_SERVER//;s/_DEV//;s/_ROOT//')
        die "port $port ($name) is already in use by another program.
  Stop it, or pick another port: SIGSTACK_${var}_PORT=<port> scripts/up.sh"
    fi
done

FIRST=0
[ -f "$STATE/initialized" ] || FIRST=1

if [ $FIRST = 1 ]; then
    say "first run: creating keys in $STATE"
    "$BIN/fulcio" ca create --out-dir "$STATE/fulcio/ca" --insecure-no-passphrase \
        --organization "$OPERATOR" --common-name "sigstack-fulcio" >"$LOGS/ca-create.log" 2>&1 ||
        die "fulcio ca create failed: $(cat "$LOGS/ca-create.log")"
fi
# The TSA chain and key: made on the first run, and once for a state dir from
# before the TSA existed (`certificate create` never overwrites a file).
if [ ! -f "$STATE/tsa/chain.pem" ]; then
    "$BIN/timestamp-server" certificate create --out-dir "$STATE/tsa" --insecure-no-passphrase \
        --organization "$OPERATOR" --common-name "sigstack-tsa" >"$LOGS/tsa-create.log" 2>&1 ||
        die "timestamp-server certificate create failed: $(cat "$LOGS/tsa-create.log")"
fi

# Fulcio trusts the development issuer (people: e-mail identities; workloads: URI
# subjects under <issuer>/workloads) and any extra issuers given.
mkdir -p "$STATE/fulcio"
{
    printf '{"OIDCIssuers":{'
    printf '"%s":{"IssuerURL":"%s","ClientID":"sigstore","Type":"email"}' "$OIDC_URL" "$OIDC_URL"
    printf ',"%s/workloads":{"IssuerURL":"%s/workloads","ClientID":"sigstore","Type":"uri","SubjectDomain":"%s"}' \
        "$OIDC_URL" "$OIDC_URL" "$OIDC_URL"
    for iss in ${SIGSTACK_EXTRA_OIDC_ISSUERS:-}; do
        printf ',"%s":{"IssuerURL":"%s","ClientID":"sigstore","Type":"email"}' "$iss" "$iss"
    done
    printf '}}\n'
} >"$STATE/fulcio/config.json.new"
mv "$STATE/fulcio/config.json.new" "$STATE/fulcio/config.json"

start oidc-dev "$OIDC_PORT" "$OIDC_URL/healthz" \
    "$BIN/oidc-dev" --listen "$HOST:$OIDC_PORT" --issuer-url "$OIDC_URL" --key "$STATE/oidc/issuer-key.pem"
start ctlog-server "$CTLOG_PORT" "$CTLOG_URL/healthz" \
    "$BIN/ctlog-server" --listen "$HOST:$CTLOG_PORT" --data-dir "$STATE/ctlog" \
    --roots-pem-file "$STATE/fulcio/ca/root.crt.pem"
start rekor-server "$REKOR_PORT" "$REKOR_URL/healthz" \
    "$BIN/rekor-server" --listen "$HOST:$REKOR_PORT" --data-dir "$STATE/rekor" --base-url "$REKOR_URL" --v2
start timestamp-server "$TSA_PORT" "$TSA_URL/healthz" \
    "$BIN/timestamp-server" serve --host "$HOST" --port "$TSA_PORT" --timestamp-signer file \
    --file-signer-key-path "$STATE/tsa/tsa.key.pem" --certificate-chain-path "$STATE/tsa/chain.pem"
wait_healthy oidc-dev "$OIDC_URL/healthz"
wait_healthy ctlog-server "$CTLOG_URL/healthz"
wait_healthy rekor-server "$REKOR_URL/healthz"
wait_healthy timestamp-server "$TSA_URL/healthz"

[ -f "$STATE/ctlog/ctlog.pub.pem" ] ||
    openssl pkey -in "$STATE/ctlog/ctlog-key.pem" -pubout -out "$STATE/ctlog/ctlog.pub.pem" 2>"$LOGS/openssl.log" ||
    die "cannot derive the CT log public key: $(cat "$LOGS/openssl.log")"

start fulcio "$FULCIO_PORT" "$FULCIO_URL/healthz" \
    "$BIN/fulcio" serve --host "$HOST" --port "$FULCIO_PORT" --config-path "$STATE/fulcio/config.json" \
    --ca fileca --fileca-cert "$STATE/fulcio/ca/chain.pem" --fileca-key "$STATE/fulcio/ca/intermediate.key.pem" \
    --ct-log-url "$CTLOG_URL" --ct-log-public-key-path "$STATE/ctlog/ctlog.pub.pem"
wait_healthy fulcio "$FULCIO_URL/healthz"

# The v2 log's checkpoint key (generated by rekor-server on its first start with --v2).
if [ ! -f "$STATE/rekor/v2/log.pub.pem" ] || [ "$STATE/rekor/v2/log-key.pem" -nt "$STATE/rekor/v2/log.pub.pem" ]; then
    openssl pkey -in "$STATE/rekor/v2/log-key.pem" -pubout -out "$STATE/rekor/v2/log.pub.pem" 2>"$LOGS/openssl.log" ||
        die "cannot derive the Rekor v2 public key: $(cat "$LOGS/openssl.log")"
fi

# ----------------------------------------------------------------------------- trust root
TUF=$STATE/tuf
if [ $FIRST = 1 ]; then
    "$BIN/tuf-root" init --dir "$TUF" --generate >"$LOGS/tuf-init.log" 2>&1 ||
        die "tuf-root init failed: $(cat "$LOGS/tuf-init.log")"
fi
# Idempotent: publishes only when a key, chain or URL changed.
"$BIN/tuf-root" set-trust --dir "$TUF" --fulcio-url "$FULCIO_URL" --rekor-url "$REKOR_URL" \
    --rekor-v2-url "$REKOR_URL/v2" --rekor-v2-public-key "$STATE/rekor/v2/log.pub.pem" \
    --ctlog-url "$CTLOG_URL" --ctlog-public-key "$STATE/ctlog/ctlog.pub.pem" \
    --tsa-url "$TSA_URL/api/v1/timestamp" --tsa-chain "$STATE/tsa/chain.pem" \
    --oidc-url "$OIDC_URL" --operator "$OPERATOR" >"$LOGS/tuf-set-trust.log" 2>&1 ||
    die "tuf-root set-trust failed: $(cat "$LOGS/tuf-set-trust.log")"
"$BIN/tuf-root" refresh --dir "$TUF" >>"$LOGS/tuf-refresh.log" 2>&1 ||
    die "tuf-root refresh failed: $(tail -5 "$LOGS/tuf-refresh.log")"
start tuf-root "$TUF_PORT" "$TUF_URL/healthz" \
    "$BIN/tuf-root" serve --dir "$TUF" --listen "$HOST:$TUF_PORT"
wait_healthy tuf-root "$TUF_URL/healthz"
[ $FIRST = 1 ] && date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/initialized"
T1=$(date +%s%N)

cat >"$STATE/env" <<EOF
# Written by scripts/up.sh; source it: . $STATE/env
export SIGSTACK_STATE=$STATE
export SIGSTACK_OIDC_ISSUER=$OIDC_URL
export SIGSTACK_FULCIO_URL=$FULCIO_URL
export SIGSTACK_REKOR_URL=$REKOR_URL
export SIGSTACK_REKOR_V2_URL=$REKOR_URL/v2
export SIGSTACK_CTLOG_URL=$CTLOG_URL
export SIGSTACK_TSA_URL=$TSA_URL/api/v1/timestamp
export SIGSTACK_TUF_URL=$TUF_URL
export SIGSTACK_TRUSTED_ROOT=$TUF/trusted_root.json
export SIGSTACK_SIGNING_CONFIG=$TUF/signing_config.v0.2.json
export SIGSTACK_CLIENT_TRUST_CONFIG=$TUF/client_trust_config.json
export SIGSTACK_TUF_ROOT_JSON=$TUF/repository/1.root.json
EOF

cat <<EOF
sigstack is up (services healthy $(( (T1 - T0) / 1000000 )) ms after the build; state: $STATE)

  OIDC issuer (dev)  $OIDC_URL        (workloads: $OIDC_URL/workloads)
  Fulcio             $FULCIO_URL
  CT log             $CTLOG_URL
  Rekor              $REKOR_URL         (Rekor v2 / tlog-tiles: $REKOR_URL/v2)
  TSA (RFC 3161)     $TSA_URL/api/v1/timestamp
  TUF repository     $TUF_URL

  trusted root       $TUF/trusted_root.json
  signing config     $TUF/signing_config.v0.2.json
  client trust cfg   $TUF/client_trust_config.json
  TUF root.json      $TUF/repository/1.root.json
  logs               $LOGS/

  . $STATE/env
  TOKEN=\$(scripts/dev-token.sh you@example.com)

Go cosign (v3):
  cosign initialize --mirror \$SIGSTACK_TUF_URL --root \$SIGSTACK_TUF_ROOT_JSON
  cosign sign-blob --identity-token "\$TOKEN" --bundle a.sigstore.json a.txt
  cosign verify-blob --bundle a.sigstore.json --certificate-identity you@example.com \\
      --certificate-oidc-issuer \$SIGSTACK_OIDC_ISSUER a.txt
  (without TUF: add --signing-config \$SIGSTACK_SIGNING_CONFIG / --trusted-root \$SIGSTACK_TRUSTED_ROOT)

sigstore-python:
  python -m sigstore --instance \$SIGSTACK_TUF_URL trust-instance \$SIGSTACK_TUF_ROOT_JSON
  python -m sigstore --instance \$SIGSTACK_TUF_URL sign --identity-token "\$TOKEN" a.txt
  python -m sigstore --instance \$SIGSTACK_TUF_URL verify identity --cert-identity you@example.com \\
      --cert-oidc-issuer \$SIGSTACK_OIDC_ISSUER a.txt
  (without TUF: python -m sigstore --trust-config \$SIGSTACK_CLIENT_TRUST_CONFIG ...)

our cosign (cosign-cli; blobs so far):
  $BIN/cosign initialize --mirror \$SIGSTACK_TUF_URL --root \$SIGSTACK_TUF_ROOT_JSON
  $BIN/cosign sign-blob --identity-token "\$TOKEN" --bundle a.sigstore.json a.txt
  $BIN/cosign verify-blob --bundle a.sigstore.json --certificate-identity you@example.com \\
      --certificate-oidc-issuer \$SIGSTACK_OIDC_ISSUER a.txt
  (without TUF: add --signing-config \$SIGSTACK_SIGNING_CONFIG / --trusted-root \$SIGSTACK_TRUSTED_ROOT;
   verification with --trusted-root makes no network call)

Stop: scripts/down.sh
EOF
