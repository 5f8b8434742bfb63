#!/usr/bin/env bash
# Upstream-client interop harness for our Rekor v1 log (`rekor-server`).
#
# What it does, in order:
#   1. installs PINNED upstream peers into a cache outside the clone
#      (${SIGSTACK_CACHE:-$HOME/.cache/sigstack}):
#        - rekor-cli  (go install github.com/sigstore/rekor/cmd/rekor-cli@$REKOR_CLI_VERSION)
#        - a venv with sigstore==$SIGSTORE_PY_VERSION (sigstore-python)
#      Both are skipped when the pinned version is already there.
#   2. builds our servers with `cargo test --workspace --no-run` (the test step's exact
#      feature set, so RocksDB is compiled once; set INTEROP_PROFILE=release for
#      `cargo build --release --workspace --bins`)
#      (CARGO_TARGET_DIR defaults to $SIGSTACK_CACHE/target; an existing one is honoured;
#       REKOR_SERVER_BIN=/path/to/rekor-server skips the build and uses that binary)
#   3. starts rekor-server on 127.0.0.1:<free port> with a temp data dir and a fresh
#      P-256 key, waits for /healthz, runs the cases, kills the server on exit.
#   4. the Fulcio + CT log section (interop/fulcio.sh), then the TUF publisher section
#      (interop/tuf.sh: tuf-root with python-tuf, tuf-js, sigstore-python, sigstore-js and
#      cosign v3 as clients; see interop/README.md), then the stack section (interop/stack.sh:
#      scripts/up.sh on a temp state dir and free ports, then sigstore-python, sigstore-js and
#      cosign sign/verify/cross-verify against it, refusals, a workload token, and up.sh restarts,
#      a taken port and down.sh).
#
# Server CLI contract (the server must follow it):
#   rekor-server --listen 127.0.0.1:PORT --data-dir DIR --signing-key KEY.pem \
#                --hostname HOST --tree-id N
#   rekor-server --config FILE.toml    # keys: listen, data_dir, signing_key, hostname, tree_id
#   KEY.pem is an unencrypted PKCS#8 P-256 private key (mode 0600).
#   Endpoints: Rekor v1 REST API under /api/v1, plus /healthz and /metrics.
#
# Output: one line per case, `PASS <name>` or `FAIL <name>: <reason>`, then the plain
# line `N passed, N failed`.  Exit status is non-zero if any case failed.  A peer that
# cannot be installed is a FAIL naming the error; the remaining cases still run.
#
# Environment knobs:
#   SIGSTACK_CACHE      cache dir (default $HOME/.cache/sigstack)
#   CARGO_TARGET_DIR    cargo target dir (default $SIGSTACK_CACHE/target)
#   REKOR_SERVER_BIN    use this server binary instead of building
#   INTEROP_KEEP=1      keep the temp work dir (server log, keys, responses) and print its path
#   INTEROP_TREE_ID     tree ID passed to the server (default below)
set -u
set -o pipefail

REKOR_CLI_VERSION=v1.5.4    # newest v1.x whose go.mod builds with the local Go (v1.5.5 needs go >= 1.27)
SIGSTORE_PY_VERSION=4.5.1   # newest 4.x on PyPI

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE="$ROOT/scripts/interop"
CACHE=${SIGSTACK_CACHE:-$HOME/.cache/sigstack}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
TREE_ID=${INTEROP_TREE_ID:-1193046123456789}
LOG_HOST=127.0.0.1
CURL=(curl -sS --max-time 20 --connect-timeout 5)

REKOR_CLI_DIR="$CACHE/go/rekor-cli-$REKOR_CLI_VERSION"
REKOR_CLI="$REKOR_CLI_DIR/rekor-cli"
VENV="$CACHE/venv-sigstore-$SIGSTORE_PY_VERSION"
PY="$VENV/bin/python"

mkdir -p "$CACHE/logs"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sigstack-interop.XXXXXX")
SERVER_PID=""
URL=""

PASSED=0
FAILED=0

# ----------------------------------------------------------------------------- reporting

oneline() { tr '\n\r\t' '   ' | sed 's/  */ /g' | cut -c1-1500; }
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $(printf '%s' "$2" | oneline)"; }
# check NAME COND-EXIT-STATUS REASON
check() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "$3"; fi; }

cleanup() {
    declare -F stack_cleanup >/dev/null && stack_cleanup
    declare -F tuf_cleanup >/dev/null && tuf_cleanup
    declare -F fulcio_cleanup >/dev/null && fulcio_cleanup
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "${INTEROP_KEEP:-0}" = 1 ]; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------- installs

# go_install NAME BIN MODULE PACKAGE VERSION TIMEOUT: a pinned `go install PACKAGE@VERSION` into
# dirname(BIN), skipped when BIN was already built from MODULE at VERSION (`go version -m`).
# PASS/FAIL as NAME; the log is $CACHE/logs/<basename BIN>-install.log.
go_install() {
    local name=$1 bin=$2 module=$3 pkg=$4 version=$5 limit=$6
    local log="$CACHE/logs/$(basename "$bin")-install.log" start secs
    if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
        grep -Eq "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
        pass "$name (cached)"
        return
    fi
    if ! command -v go >/dev/null 2>&1; then
        fail "$name" "go not found in PATH"
        return
    fi
    mkdir -p "$(dirname "$bin")"
    start=$(date +%s)
    # GOTOOLCHAIN=local: build with the installed Go, never fetch another toolchain.
    if (cd "$WORK" && GOBIN="$(dirname "$bin")" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
        timeout "$limit" go install "$pkg@$version") >"$log" 2>&1; then
        secs=$(($(date +%s) - start))
        echo "installed in ${secs}s" >>"$log"
        pass "$name ($(go version | cut -d' ' -f3), ${secs}s)"
    else
        secs=$(($(date +%s) - start))
        fail "$name" "go install failed after ${secs}s ($(go version 2>&1)): $(grep -v '^go: downloading' "$log" | tail -5)"
    fi
}

install_rekor_cli() {
    go_install "install rekor-cli $REKOR_CLI_VERSION" "$REKOR_CLI" github.com/sigstore/rekor \
        github.com/sigstore/rekor/cmd/rekor-cli "$REKOR_CLI_VERSION" 1200
}

install_sigstore_py() {
    local log="$CACHE/logs/sigstore-py-install.log"
    if [ -x "$PY" ] && "$PY" -c "import sigstore, sys; sys.exit(sigstore.__version__ != '$SIGSTORE_PY_VERSION')" 2>/dev/null; then
        pass "install sigstore-python $SIGSTORE_PY_VERSION venv (cached)"
        return
    fi
    rm -rf "$VENV"
    if { python3 -m venv "$VENV" &&
        "$VENV/bin/pip" install --disable-pip-version-check -q "sigstore==$SIGSTORE_PY_VERSION" &&
        "$PY" -c "import sigstore, sys; sys.exit(sigstore.__version__ != '$SIGSTORE_PY_VERSION')"; } >"$log" 2>&1; then
        pass "install sigstore-python $SIGSTORE_PY_VERSION venv"
    else
        fail "install sigstore-python $SIGSTORE_PY_VERSION venv" "$(tail -5 "$log")"
    fi
}

SERVER_BIN=""
BIN_DIR=""
build_server() {
    local log="$CACHE/logs/cargo-build-rekor.log"
    if [ -n "${REKOR_SERVER_BIN:-}" ]; then
        if [ -x "$REKOR_SERVER_BIN" ]; then
            SERVER_BIN=$REKOR_SERVER_BIN
            BIN_DIR=$(dirname "$REKOR_SERVER_BIN")
            pass "build rekor-server (using REKOR_SERVER_BIN=$REKOR_SERVER_BIN)"
        else
            fail "build rekor-server" "REKOR_SERVER_BIN=$REKOR_SERVER_BIN is not executable"
        fi
        return
    fi
    # Build every server with the same cargo invocation as the test step: cargo resolves
    # features per selection of packages, and a different selection can mean another
    # 25-minute RocksDB compile on a cold machine. `cargo test --no-run` builds the
    # binaries of every package with integration tests (rekor-server, fulcio, ctlog-server).
    local cmd=(cargo test --workspace --no-run) dir=debug
    if [ "${INTEROP_PROFILE:-dev}" = release ]; then dir=release; cmd=(cargo build --release --workspace --bins); fi
    BIN_DIR="$CARGO_TARGET_DIR/$dir"
    if (cd "$ROOT" && "${cmd[@]}") >"$log" 2>&1; then
        if [ -x "$BIN_DIR/rekor-server" ]; then
            SERVER_BIN="$BIN_DIR/rekor-server"
            pass "build servers (${cmd[*]})"
        else
            fail "build servers" "cargo succeeded but $BIN_DIR/rekor-server does not exist"
        fi
    else
        fail "build servers" "${cmd[*]} failed: $(grep -E '^(error|warning: unused)' "$log" | head -5) $(tail -3 "$log")"
    fi
}

# ----------------------------------------------------------------------------- server

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

make_log_key() {
    (umask 077 && openssl ecparam -name prime256v1 -genkey -noout |
        openssl pkcs8 -topk8 -nocrypt -out "$WORK/log-key.pem") &&
        chmod 600 "$WORK/log-key.pem" &&
        openssl pkey -in "$WORK/log-key.pem" -pubout -out "$WORK/log-pub.pem" 2>/dev/null
}

# start_server MODE (flags|config); sets SERVER_PID and URL, returns 0 when /healthz answers
start_server() {
    local mode=$1 port i
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    mkdir -p "$WORK/data"
    if [ "$mode" = config ]; then
        cat >"$WORK/rekor-server.toml" <<EOF
listen = "127.0.0.1:$port"
data_dir = "$WORK/data"
signing_key = "$WORK/log-key.pem"
hostname = "$LOG_HOST"
tree_id = $TREE_ID
EOF
        "$SERVER_BIN" --config "$WORK/rekor-server.toml" >>"$WORK/server.log" 2>&1 &
    else
        "$SERVER_BIN" --listen "127.0.0.1:$port" --data-dir "$WORK/data" \
            --signing-key "$WORK/log-key.pem" --hostname "$LOG_HOST" --tree-id "$TREE_ID" \
            >>"$WORK/server.log" 2>&1 &
    fi
    SERVER_PID=$!
    for i in $(seq 1 150); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=""
            return 1
        fi
        if "${CURL[@]}" -f --max-time 2 -o /dev/null "$URL/healthz" 2>/dev/null; then
            return 0
        fi
        [ "$i" -eq 1 ] || sleep 0.2
    done
    return 1
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
    fi
}

server_up() { [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; }

# ----------------------------------------------------------------------------- helpers

# Run rekor-cli against our server with an isolated HOME (its tree-state cache lives in
# $HOME/.rekor) and our log key for SET/checkpoint verification.  rekor-cli reads the key
# from viper key `rekor_server_public_key`, i.e. env REKOR_REKOR_SERVER_PUBLIC_KEY (PEM
# text, not a path); without it it would fetch /api/v1/log/publicKey from the server.
# Output: $WORK/out (stdout) and $WORK/err (stderr).
rcli() {
    HOME="$WORK/home" REKOR_REKOR_SERVER_PUBLIC_KEY="${RCLI_KEY:-$(cat "$WORK/log-pub.pem")}" \
        timeout 60 "$REKOR_CLI" "$@" --rekor_server "$URL" --timeout 20s >"$WORK/out" 2>"$WORK/err"
}
rcli_err() { printf 'rekor-cli %s: exit %s; stderr: %s; stdout: %s' "$1" "$2" "$(tail -c 800 "$WORK/err")" "$(head -c 600 "$WORK/out")"; }

# api METHOD PATH [JSON-FILE]: response body in $WORK/body, headers in $WORK/headers,
# status in $STATUS
STATUS=000
api() {
    local args=("${CURL[@]}" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$1")
    if [ $# -ge 3 ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "@$3")
    fi
    STATUS=$("${args[@]}" "$URL$2" 2>"$WORK/curl.err") || STATUS="000 ($(cat "$WORK/curl.err"))"
}
api_detail() { printf '%s %s -> HTTP %s, body: %s' "$1" "$2" "$STATUS" "$(head -c 600 "$WORK/body" 2>/dev/null)"; }
header() { grep -i "^$1:" "$WORK/headers" | head -1 | sed 's/^[^:]*:[[:space:]]*//' | tr -d '\r'; }

b64() { base64 -w0 <"$1"; }
sha256hex() { sha256sum "$1" | cut -d' ' -f1; }

# hashedrekord 0.0.1 proposed entry as upstream clients send it
hashedrekord_json() { # ARTIFACT-SHA256-HEX SIG-FILE KEY-OR-CERT-PEM [ALG]
    jq -n --arg h "$1" --arg s "$(b64 "$2")" --arg k "$(b64 "$3")" --arg a "${4:-sha256}" \
        '{kind:"hashedrekord",apiVersion:"0.0.1",spec:{signature:{content:$s,publicKey:{content:$k}},data:{hash:{algorithm:$a,value:$h}}}}'
}

# run the Python checker; forwards and counts its PASS/FAIL lines
run_py() { # NAME SUBCOMMAND [ARGS...]
    local name=$1 rc npass nfail
    shift
    if [ ! -x "$PY" ]; then
        fail "$name" "sigstore-python venv missing ($PY): see the install case above"
        return
    fi
    if [ "$1" != selftest ] && ! server_up; then
        fail "$name" "server not running (see the server start case)"
        return
    fi
    local extra=()
    [ "$1" = selftest ] || extra=(--url "$URL" --pubkey "$WORK/log-pub.pem" --tree-id "$TREE_ID" --hostname "$LOG_HOST" --work "$WORK/py")
    timeout 300 "$PY" "$HERE/check_log.py" "$@" "${extra[@]}" >"$WORK/py.out" 2>"$WORK/py.err"
    rc=$?
    grep -E '^(PASS|FAIL) ' "$WORK/py.out"
    npass=$(grep -c '^PASS ' "$WORK/py.out")
    nfail=$(grep -c '^FAIL ' "$WORK/py.out")
    PASSED=$((PASSED + npass))
    FAILED=$((FAILED + nfail))
    if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        fail "$name" "check_log.py $1 exited $rc: $(tail -c 800 "$WORK/py.err")"
    fi
}

need() { # NAME: is the server up and rekor-cli installed?  else FAIL NAME and return 1
    if ! server_up; then
        fail "$1" "server not running (see the server start case)"
        return 1
    fi
    if [ "${2:-}" = cli ] && [ ! -x "$REKOR_CLI" ]; then
        fail "$1" "rekor-cli $REKOR_CLI_VERSION not installed (see the install case)"
        return 1
    fi
    return 0
}

# entry ID from rekor-cli upload --format json output ({"Location": "/api/v1/log/entries/<id>", ...})
location_id() { jq -r '.Location // empty' "$WORK/out" 2>/dev/null | sed 's#.*/##'; }

# ----------------------------------------------------------------------------- materials

make_materials() {
    local m="$WORK/m"
    mkdir -p "$m" "$WORK/home" "$WORK/py"
    (umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$m/key.pem") || return 1
    openssl ec -in "$m/key.pem" -pubout -out "$m/pub.pem" 2>/dev/null || return 1
    # a second key whose self-signed certificate is uploaded as the "public key"
    (umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$m/ckey.pem") || return 1
    openssl req -x509 -new -key "$m/ckey.pem" -sha256 -days 2 -subj "/CN=sigstack interop" \
        -addext "subjectAltName=email:interop@example.invalid" -out "$m/cert.pem" 2>/dev/null || return 1
    local i
    for i in 1 2 3 4 5; do
        printf 'sigstack interop artifact %s %s\n' "$i" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$m/a$i.txt"
    done
    cp "$m/a1.txt" "$m/tampered.txt" && printf 'tampered\n' >>"$m/tampered.txt"
    for i in 1 3 4 5; do
        openssl dgst -sha256 -sign "$m/key.pem" -out "$m/a$i.sig" "$m/a$i.txt" || return 1
    done
    openssl dgst -sha256 -sign "$m/ckey.pem" -out "$m/a2.sig" "$m/a2.txt" || return 1
    # a signature that is valid, but for a different file
    openssl dgst -sha256 -sign "$m/key.pem" -out "$m/wrong.sig" "$m/a3.txt" || return 1
    # P-256 over SHA-512: not in the algorithm allow-list
    openssl dgst -sha512 -sign "$m/key.pem" -out "$m/a5.sha512.sig" "$m/a5.txt" || return 1
}

# ============================================================================= run

echo "interop: rekor-cli $REKOR_CLI_VERSION, sigstore-python $SIGSTORE_PY_VERSION, cache $CACHE, work $WORK" >&2

install_rekor_cli
install_sigstore_py
run_py "check_log selftest" selftest
build_server

if make_log_key && make_materials; then
    pass "test materials (openssl P-256 log key 0600, signer keys, self-signed cert)"
else
    fail "test materials" "openssl failed"
fi

if [ -n "$SERVER_BIN" ]; then
    if start_server flags; then
        pass "server start (--listen --data-dir --signing-key --hostname --tree-id; /healthz answers)"
    else
        fail "server start" "no /healthz within 30s on $URL; server log: $(tail -c 1500 "$WORK/server.log" 2>/dev/null)"
    fi
else
    fail "server start" "no server binary (see build case)"
fi
M="$WORK/m"

# --- plain API surface ------------------------------------------------------------------
if need "GET /api/v1/log/publicKey"; then
    api GET /api/v1/log/publicKey
    if [ "$STATUS" = 200 ] && cmp -s <(openssl pkey -pubin -in "$WORK/body" -outform DER 2>/dev/null) \
        <(openssl pkey -pubin -in "$WORK/log-pub.pem" -outform DER); then
        ct=$(header content-type)
        check "GET /api/v1/log/publicKey (PEM of our key, application/x-pem-file)" \
            "$([ "${ct%%;*}" = application/x-pem-file ] && echo 0 || echo 1)" "Content-Type is '$ct', want application/x-pem-file"
    else
        fail "GET /api/v1/log/publicKey" "not the PEM SPKI of --signing-key: $(api_detail GET /api/v1/log/publicKey)"
    fi
fi
if need "GET /metrics"; then
    api GET /metrics
    check "GET /metrics (200, Prometheus text)" "$([ "$STATUS" = 200 ] && grep -q '^# \(HELP\|TYPE\) ' "$WORK/body" && echo 0 || echo 1)" \
        "$(api_detail GET /metrics)"
fi
run_py "py loginfo snapshot (empty)" snapshot --label empty

# --- 1. rekor-cli upload -----------------------------------------------------------------
KEY_ID=""
KEY_IDX=""
if need "rekor-cli upload hashedrekord (public key)" cli; then
    rcli upload --type hashedrekord --artifact "$M/a1.txt" --signature "$M/a1.sig" \
        --public-key "$M/pub.pem" --pki-format x509 --format json
    rc=$?
    KEY_ID=$(location_id)
    KEY_IDX=$(jq -r '.Index // empty' "$WORK/out" 2>/dev/null)
    if [ "$rc" -eq 0 ] && [ "${#KEY_ID}" = 80 ] && [ "$(jq -r .AlreadyExists "$WORK/out")" = false ]; then
        pass "rekor-cli upload hashedrekord (public key) -> index $KEY_IDX (client verified SET, inclusion proof, checkpoint)"
        echo "$KEY_ID" >>"$WORK/py/uuids.txt"
    else
        fail "rekor-cli upload hashedrekord (public key)" "$(rcli_err upload "$rc") (entry ID from Location: '$KEY_ID')"
    fi
fi
CERT_ID=""
CERT_IDX=""
if need "rekor-cli upload hashedrekord (self-signed certificate)" cli; then
    rcli upload --type hashedrekord --artifact "$M/a2.txt" --signature "$M/a2.sig" \
        --public-key "$M/cert.pem" --pki-format x509 --format json
    rc=$?
    CERT_ID=$(location_id)
    CERT_IDX=$(jq -r '.Index // empty' "$WORK/out" 2>/dev/null)
    if [ "$rc" -eq 0 ] && [ "${#CERT_ID}" = 80 ]; then
        pass "rekor-cli upload hashedrekord (self-signed certificate) -> index $CERT_IDX"
        echo "$CERT_ID" >>"$WORK/py/uuids.txt"
    else
        fail "rekor-cli upload hashedrekord (self-signed certificate)" "$(rcli_err upload "$rc")"
    fi
fi

# --- 2. loginfo (first run stores the tree state in $WORK/home/.rekor) -------------------
if need "rekor-cli loginfo #1" cli; then
    rcli loginfo --format json
    rc=$?
    size=$(jq -r '.ActiveTreeSize // empty' "$WORK/out" 2>/dev/null)
    tid=$(jq -r '.TreeID // empty' "$WORK/out" 2>/dev/null)
    if [ "$rc" -eq 0 ] && [ "$tid" = "$TREE_ID" ] && [ -s "$WORK/home/.rekor/state.json" ]; then
        pass "rekor-cli loginfo #1 (STH signature verified, size $size, state cached)"
    else
        fail "rekor-cli loginfo #1" "$(rcli_err loginfo "$rc") (TreeID '$tid', want $TREE_ID)"
    fi
fi
run_py "py loginfo snapshot (after rekor-cli uploads)" snapshot --label after-cli-uploads

# --- 2. get ------------------------------------------------------------------------------
for form in entryID uuid; do
    name="rekor-cli get --uuid <$form>"
    need "$name" cli || continue
    if [ -z "$KEY_ID" ]; then fail "$name" "no entry from the upload case"; continue; fi
    id=$KEY_ID
    [ "$form" = uuid ] && id=${KEY_ID:16}
    rcli get --uuid "$id" --format json
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$(jq -r .LogIndex "$WORK/out")" = "$KEY_IDX" ] &&
        [ "$(jq -r .UUID "$WORK/out")" = "$KEY_ID" ] &&
        [ "$(jq -r '.Body.HashedRekordObj.data.hash.value' "$WORK/out")" = "$(sha256hex "$M/a1.txt")" ]; then
        pass "$name (inclusion proof, checkpoint, SET verified by rekor-cli)"
    else
        fail "$name" "$(rcli_err "get --uuid $id" "$rc") (want LogIndex $KEY_IDX, UUID $KEY_ID)"
    fi
done
if need "rekor-cli get --log-index" cli; then
    if [ -z "$CERT_IDX" ]; then
        fail "rekor-cli get --log-index" "no entry from the certificate upload case"
    else
        rcli get --log-index "$CERT_IDX" --format json
        rc=$?
        if [ "$rc" -eq 0 ] && [ "$(jq -r .UUID "$WORK/out")" = "$CERT_ID" ]; then
            pass "rekor-cli get --log-index $CERT_IDX (verified)"
        else
            fail "rekor-cli get --log-index $CERT_IDX" "$(rcli_err get "$rc") (want UUID $CERT_ID)"
        fi
    fi
fi
if need "rekor-cli get --format tle (Go rekor types re-parse the body)" cli; then
    rcli get --uuid "${CERT_ID:-missing-certificate-upload}" --format tle
    rc=$?
    kv=$(jq -r '.kindVersion | "\(.kind) \(.version)"' "$WORK/out" 2>/dev/null)
    check "rekor-cli get --format tle (Go rekor types re-parse the body)" \
        "$([ "$rc" -eq 0 ] && [ "$kv" = "hashedrekord 0.0.1" ] && echo 0 || echo 1)" "$(rcli_err "get --format tle" "$rc")"
fi

# --- 2. search ---------------------------------------------------------------------------
search_case() { # NAME WANT-ID ARGS...
    local name=$1 want=$2 rc
    shift 2
    need "$name" cli || return
    if [ -z "$want" ]; then fail "$name" "no entry from the upload case"; return; fi
    rcli search "$@" --format json
    rc=$?
    if [ "$rc" -eq 0 ] && jq -r '.UUIDs[]' "$WORK/out" 2>/dev/null | grep -q "${want:16}\$"; then
        pass "$name"
    else
        fail "$name" "$(rcli_err search "$rc") (want ${want:16})"
    fi
}
search_case "rekor-cli search --sha sha256:<hex>" "$KEY_ID" --sha "sha256:$(sha256hex "$M/a1.txt")"
search_case "rekor-cli search --sha <hex>" "$KEY_ID" --sha "$(sha256hex "$M/a1.txt")"
search_case "rekor-cli search --artifact" "$CERT_ID" --artifact "$M/a2.txt"
search_case "rekor-cli search --public-key (PEM key)" "$KEY_ID" --public-key "$M/pub.pem" --pki-format x509
search_case "rekor-cli search --public-key (certificate)" "$CERT_ID" --public-key "$M/cert.pem" --pki-format x509
if need "rekor-cli search --artifact <tampered> finds nothing" cli; then
    rcli search --artifact "$M/tampered.txt" --format json
    rc=$?
    check "rekor-cli search --artifact <tampered> finds nothing" \
        "$([ "$rc" -ne 0 ] && grep -q 'no matching entries found' "$WORK/err" && echo 0 || echo 1)" "$(rcli_err search "$rc")"
fi

# --- 2. verify ---------------------------------------------------------------------------
verify_case() { # NAME ARGS...
    local name=$1 rc
    shift
    need "$name" cli || return
    rcli verify "$@" --format json
    rc=$?
    if [ "$rc" -eq 0 ] && [ -n "$(jq -r '.RootHash // empty' "$WORK/out" 2>/dev/null)" ]; then
        pass "$name"
    else
        fail "$name" "$(rcli_err verify "$rc")"
    fi
}
verify_case "rekor-cli verify --artifact --signature --public-key (inclusion proof + checkpoint + SET with our key)" \
    --type hashedrekord --artifact "$M/a1.txt" --signature "$M/a1.sig" --public-key "$M/pub.pem" --pki-format x509
verify_case "rekor-cli verify --artifact --signature --public-key <certificate>" \
    --type hashedrekord --artifact "$M/a2.txt" --signature "$M/a2.sig" --public-key "$M/cert.pem" --pki-format x509
verify_case "rekor-cli verify --uuid" --uuid "${KEY_ID:-missing-key-upload}"
verify_case "rekor-cli verify --log-index" --log-index "${CERT_IDX:-missing-certificate-upload}"
if need "rekor-cli verify rejects a foreign log key (env REKOR_REKOR_SERVER_PUBLIC_KEY is honoured)" cli; then
    RCLI_KEY=$(openssl ecparam -name prime256v1 -genkey -noout | openssl pkey -pubout)
    export RCLI_KEY
    rcli verify --type hashedrekord --artifact "$M/a1.txt" --signature "$M/a1.sig" --public-key "$M/pub.pem" --pki-format x509
    rc=$?
    unset RCLI_KEY
    check "rekor-cli verify rejects a foreign log key (env REKOR_REKOR_SERVER_PUBLIC_KEY is honoured)" \
        "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "verify succeeded with a random log key: $(head -c 300 "$WORK/out")"
fi

# --- 3. duplicates -----------------------------------------------------------------------
if need "rekor-cli upload of the same artifact twice reports the existing entry" cli; then
    rcli upload --type hashedrekord --artifact "$M/a1.txt" --signature "$M/a1.sig" \
        --public-key "$M/pub.pem" --pki-format x509 --format json
    rc=$?
    if [ "$rc" -eq 0 ] && [ "$(jq -r .AlreadyExists "$WORK/out")" = true ] && [ "$(location_id)" = "$KEY_ID" ]; then
        pass "rekor-cli upload of the same artifact twice reports the existing entry"
    else
        fail "rekor-cli upload of the same artifact twice reports the existing entry" "$(rcli_err upload "$rc") (want AlreadyExists with Location .../$KEY_ID)"
    fi
fi
if need "API: POST new hashedrekord -> 201, ETag = map key, Location"; then
    hashedrekord_json "$(sha256hex "$M/a3.txt")" "$M/a3.sig" "$M/pub.pem" >"$WORK/a3.json"
    api POST /api/v1/log/entries "$WORK/a3.json"
    key=$(jq -r 'keys[0] // empty' "$WORK/body" 2>/dev/null)
    etag=$(header etag)
    loc=$(header location)
    ct=$(header content-type)
    if [ "$STATUS" = 201 ] && [ "${#key}" = 80 ] && [ "$etag" = "$key" ] &&
        [ "${loc%/*}" != "$loc" ] && [ "${loc##*/}" = "$key" ] && [ "${ct%%;*}" = application/json ]; then
        pass "API: POST new hashedrekord -> 201, ETag = map key, Location .../<entryID>"
        echo "$key" >>"$WORK/py/uuids.txt"
    else
        fail "API: POST new hashedrekord -> 201, ETag = map key, Location" \
            "$(api_detail POST /api/v1/log/entries); key='$key' ETag='$etag' Location='$loc' Content-Type='$ct'"
    fi
    api POST /api/v1/log/entries "$WORK/a3.json"
    loc2=$(header location)
    msg=$(jq -r '.message // empty' "$WORK/body" 2>/dev/null)
    code=$(jq -r '.code // empty' "$WORK/body" 2>/dev/null)
    if [ "$STATUS" = 409 ] && [ "$code" = 409 ] && [ "${loc2##*/}" = "$key" ] &&
        [ "$msg" = "an equivalent entry already exists in the transparency log with UUID $key" ]; then
        pass "API: duplicate POST -> 409 {code,message} + Location of the existing entry"
    else
        fail "API: duplicate POST -> 409 {code,message} + Location of the existing entry" \
            "$(api_detail POST /api/v1/log/entries); Location='$loc2' (want .../$key)"
    fi
fi

# --- 4. negatives ------------------------------------------------------------------------
if need "rekor-cli upload with a wrong signature is rejected" cli; then
    rcli upload --type hashedrekord --artifact "$M/a1.txt" --signature "$M/wrong.sig" \
        --public-key "$M/pub.pem" --pki-format x509 --format json
    rc=$?
    check "rekor-cli upload with a wrong signature is rejected (non-zero exit)" \
        "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "upload succeeded: $(head -c 400 "$WORK/out")"
fi
api_negative() { # NAME JSON-FILE WANT-STATUS(ES, |-separated) [MESSAGE-SUBSTRING]
    local name=$1 f=$2 want=$3 sub=${4:-}
    need "$name" || return
    api POST /api/v1/log/entries "$f"
    local code msg
    code=$(jq -r '.code // empty' "$WORK/body" 2>/dev/null)
    msg=$(jq -r '.message // empty' "$WORK/body" 2>/dev/null)
    if [[ "|$want|" == *"|$STATUS|"* ]] && [ "$code" = "$STATUS" ] && [ -n "$msg" ] && { [ -z "$sub" ] || [[ $msg == *"$sub"* ]]; }; then
        pass "$name"
    else
        local want_msg=""
        [ -z "$sub" ] || want_msg=" with a message containing \"$sub\""
        fail "$name" "$(api_detail POST /api/v1/log/entries) (want $want {code,message}$want_msg)"
    fi
}
if server_up; then
    hashedrekord_json "$(sha256hex "$M/a1.txt")" "$M/wrong.sig" "$M/pub.pem" >"$WORK/neg-sig.json"
    hashedrekord_json "$(sha512sum "$M/a5.txt" | cut -d' ' -f1)" "$M/a5.sha512.sig" "$M/pub.pem" sha512 >"$WORK/neg-alg.json"
    hashedrekord_json "$(sha256hex "$M/a4.txt" | cut -c1-60)" "$M/a4.sig" "$M/pub.pem" >"$WORK/neg-len.json"
    jq '.kind = "nosuchkind"' "$WORK/neg-sig.json" >"$WORK/neg-kind.json"
    printf '{"kind":"hashedrekord",' >"$WORK/neg-json.json"
fi
# Upstream (rekor v1.5.4 pkg/api/entries.go): type validation and the algorithm allow-list
# answer 400 "error processing entry: ..."; an unknown kind is rejected by go-openapi with
# 422 "invalid kind value"; malformed JSON gets 500 upstream (a go-openapi quirk no client
# relies on), so we only ask for a 4xx {code,message} there.
api_negative "API: wrong signature -> 400" "$WORK/neg-sig.json" 400 "error processing entry: "
api_negative "API: P-256 with sha512 (not in the algorithm allow-list) -> 400" "$WORK/neg-alg.json" 400 \
    "error processing entry: entry algorithms are not allowed"
api_negative "API: hash of the wrong length -> 400" "$WORK/neg-len.json" 400 "error processing entry: "
api_negative "API: unknown kind -> 400 or 422 (upstream 422 'invalid kind value')" "$WORK/neg-kind.json" "400|422"
api_negative "API: malformed JSON -> 400 or 422 (upstream: 500)" "$WORK/neg-json.json" "400|422"
if need "rekor-cli verify of a tampered artifact fails" cli; then
    rcli verify --type hashedrekord --artifact "$M/tampered.txt" --signature "$M/a1.sig" \
        --public-key "$M/pub.pem" --pki-format x509
    rc=$?
    check "rekor-cli verify of a tampered artifact fails" "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" \
        "verify succeeded for a tampered artifact: $(head -c 400 "$WORK/out")"
fi
if need "API: GET unknown entry -> 404, bad ID -> 400"; then
    api GET "/api/v1/log/entries/$(printf 'cd%.0s' $(seq 32))"
    s1=$STATUS
    api GET "/api/v1/log/entries/not-an-id"
    s2=$STATUS
    # upstream: the path pattern check is go-openapi's (422); bad 80-hex tree IDs are 400
    check "API: GET unknown entry -> 404, malformed ID -> 400/422" \
        "$([ "$s1" = 404 ] && { [ "$s2" = 400 ] || [ "$s2" = 422 ]; } && echo 0 || echo 1)" \
        "unknown 64-hex UUID -> $s1 (want 404), 'not-an-id' -> $s2 (want 400 or 422)"
fi
if need "API: POST /api/v1/log/entries/retrieve with > 10 queries -> 422"; then
    jq -n '{logIndexes: [range(0;11)]}' >"$WORK/retr11.json"
    api POST /api/v1/log/entries/retrieve "$WORK/retr11.json"
    check "API: POST /api/v1/log/entries/retrieve with > 10 queries -> 422" "$([ "$STATUS" = 422 ] && echo 0 || echo 1)" \
        "$(api_detail POST /api/v1/log/entries/retrieve)"
fi
if need "API: POST /api/v1/index/retrieve by hash"; then
    jq -n --arg h "sha256:$(sha256hex "$M/a1.txt")" '{hash:$h}' >"$WORK/idx.json"
    api POST /api/v1/index/retrieve "$WORK/idx.json"
    check "API: POST /api/v1/index/retrieve by hash" \
        "$([ "$STATUS" = 200 ] && jq -r '.[]' "$WORK/body" 2>/dev/null | grep -q "${KEY_ID:16}\$" && echo 0 || echo 1)" \
        "$(api_detail POST /api/v1/index/retrieve) (want a list containing ${KEY_ID:16})"
fi

# --- 5/6. sigstore-python ----------------------------------------------------------------
if [ -n "$CERT_ID" ]; then
    run_py "py body-check (rekor-cli certificate upload)" body-check --uuid "$CERT_ID" \
        --artifact "$M/a2.txt" --signature "$M/a2.sig" --cert "$M/cert.pem"
else
    fail "py body-check (rekor-cli certificate upload)" "no entry from the certificate upload case"
fi
run_py "py hashedrekord" hashedrekord
run_py "py dsse" dsse
run_py "py loginfo snapshot (after python uploads)" snapshot --label after-py-uploads

# --- 2. loginfo #2: consistency with the cached state across new uploads -----------------
if need "rekor-cli loginfo #2 (consistency proof from cached state)" cli; then
    # state.json maps treeID (and server URL) to the signed checkpoint text; line 2 is the size
    old=$(jq -r --arg t "$TREE_ID" '.[$t] // "" | split("\n")[1] // empty' "$WORK/home/.rekor/state.json" 2>/dev/null)
    rcli loginfo --format json
    rc=$?
    size=$(jq -r '.ActiveTreeSize // empty' "$WORK/out" 2>/dev/null)
    if [ "$rc" -eq 0 ] && [[ $size =~ ^[0-9]+$ ]] && [[ $old =~ ^[0-9]+$ ]] && [ "$size" -gt "$old" ]; then
        pass "rekor-cli loginfo #2 (consistency proof $old -> $size verified against cached state)"
    else
        fail "rekor-cli loginfo #2 (consistency proof from cached state)" "$(rcli_err loginfo "$rc") (cached size '$old', new size '$size')"
    fi
fi
if need "rekor-cli logproof" cli; then
    rcli logproof --first-size 1 --last-size 2 --format json
    rc=$?
    check "rekor-cli logproof --first-size 1 --last-size 2" "$([ "$rc" -eq 0 ] && echo 0 || echo 1)" "$(rcli_err logproof "$rc")"
fi

# --- restart: persistence + --config ------------------------------------------------------
run_py "py entries (all recorded entries, by ID/UUID/logIndex)" entries --all
if server_up; then
    before=$("${CURL[@]}" "$URL/api/v1/log" 2>/dev/null | jq -c '{treeSize, rootHash}')
    stop_server
    if start_server config; then
        pass "server restart with --config FILE.toml"
    else
        fail "server restart with --config FILE.toml" "no /healthz; config was: $(cat "$WORK/rekor-server.toml"); server log: $(tail -c 800 "$WORK/server.log")"
        start_server flags || fail "server restart with flags" "no /healthz; server log: $(tail -c 800 "$WORK/server.log")"
    fi
    if server_up; then
        after=$("${CURL[@]}" "$URL/api/v1/log" 2>/dev/null | jq -c '{treeSize, rootHash}')
        check "server restart keeps the log (same size and root)" "$([ -n "$before" ] && [ "$before" = "$after" ] && echo 0 || echo 1)" \
            "before restart $before, after $after"
    fi
else
    fail "server restart with --config FILE.toml" "server not running (see the server start case)"
    fail "server restart keeps the log (same size and root)" "server not running (see the server start case)"
fi
if need "rekor-cli loginfo #3 after restart" cli; then
    rcli loginfo --format json
    rc=$?
    check "rekor-cli loginfo #3 after restart (same tree, cached state consistent)" "$([ "$rc" -eq 0 ] && echo 0 || echo 1)" "$(rcli_err loginfo "$rc")"
fi
if need "rekor-cli upload after restart" cli; then
    rcli upload --type hashedrekord --artifact "$M/a4.txt" --signature "$M/a4.sig" \
        --public-key "$M/pub.pem" --pki-format x509 --format json
    rc=$?
    id=$(location_id)
    if [ "$rc" -eq 0 ] && [ "${#id}" = 80 ]; then
        pass "rekor-cli upload after restart"
        echo "$id" >>"$WORK/py/uuids.txt"
    else
        fail "rekor-cli upload after restart" "$(rcli_err upload "$rc")"
    fi
fi
run_py "py loginfo snapshot (final)" snapshot --label final
run_py "py consistency" consistency

# --- Fulcio + CT log (uses the Rekor above for sigstore-python's tlog entry) ---------------
# shellcheck source=interop/fulcio.sh
. "$HERE/fulcio.sh"

# --- TUF publisher (tuf-root; uses the Fulcio, CT log, OIDC mock and Rekor above) ----------
# shellcheck source=interop/tuf.sh
. "$HERE/tuf.sh"
fulcio_cleanup

# --- the whole stack from scripts/up.sh (own state dir, ports, OIDC mock; stopped at its end) ----
# shellcheck source=interop/stack.sh
. "$HERE/stack.sh"

# --- HTTPS: our services with a configured certificate, upstream clients trusting the CA ------
# shellcheck source=interop/tls.sh
. "$HERE/tls.sh"

# --- our cosign's key files against Go cosign ------------------------------------------------
# shellcheck source=interop/cosign_keys.sh
. "$HERE/cosign_keys.sh"

if ! server_up && [ -n "$SERVER_BIN" ] && [ -s "$WORK/server.log" ]; then
    echo "server log tail:" >&2
    tail -20 "$WORK/server.log" >&2
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
