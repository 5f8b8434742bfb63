# Stack section of scripts/interop.sh (issue 5: the upstream clients against a stack started by
# scripts/up.sh). Sourced last: uses interop.sh's pass/fail/check, $WORK, $CACHE, $CURL, $ROOT,
# $HERE, $BIN_DIR, $SERVER_BIN, $PY/$VENV and free_port; from fulcio.sh $OIDC_VENV
# (oidc-provider-mock), mint_token, wait_healthy and sigstore_js_present/$SIGSTORE_JS_DIR; from
# tuf.sh $COSIGN (Go cosign v3).
#
# Flow: an oidc-provider-mock on a free port -> scripts/up.sh with a temp state dir
# (SIGSTACK_STATE=$WORK/stack), five free ports and SIGSTACK_EXTRA_OIDC_ISSUERS=<mock> ->
# <state>/env -> sigstore-python (--trust-config with a dev-issuer token; --instance after
# trust-instance with a mock token), sigstore-js (sigstore_js.js; verify over trusted_root.json and
# over the TUF mirror), Go cosign (files: --signing-config/--trusted-root; TUF: initialize
# --mirror --root) and our cosign (files; keyless and --key both ways with Go cosign) sign and
# verify -> every client's bundle verified by the three others -> refusals (wrong identity, wrong
# issuer, tampered artifact, flipped signature / certificate byte) by Go cosign, sigstore-python,
# sigstore-js and our cosign -> a workload token (URI subject) -> up.sh again (state
# reused), kill -9 of rekor-server + up.sh (same log, same key), up.sh on a second state dir whose
# rekor port is taken (refused, no keys), down.sh (nothing left), up.sh after down.sh (resumes),
# down.sh.
#
# Every client runs with its own HOME/XDG dirs/TUF_ROOT under $WORK/stack-section, so no cache
# is shared between clients or with the sections above.

S="$WORK/stack-section"  # client homes, artifacts, bundles, command outputs
STK_STATE="$WORK/stack"  # SIGSTACK_STATE of the stack under test
STK_STATE2="$WORK/stack2" # a second state dir (the taken-port case)
mkdir -p "$S"
STK_MOCK_PID=""
STK_MOCK_URL=""
STK_HTTP_PID=""
STK_UP=0 # 1 once up.sh succeeded and <state>/env was read
STK_IDENTITY_MOCK=dave@example.com
declare -A STK_ENV=()
declare -A STK_PORT=()
STK_BUILD_ENV=()

# shellcheck source=interop/images.sh
. "$HERE/images.sh"
# shellcheck source=interop/tsa.sh
. "$HERE/tsa.sh"

stack_cleanup() {
    local st p
    images_cleanup
    for st in "$STK_STATE" "$STK_STATE2"; do
        if [ -n "$(ls "$st"/run/*.pid 2>/dev/null)" ]; then
            SIGSTACK_STATE="$st" timeout 60 "$ROOT/scripts/down.sh" >>"$S/cleanup-down.log" 2>&1
        fi
    done
    for p in $STK_HTTP_PID $STK_MOCK_PID; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    STK_HTTP_PID=""
    STK_MOCK_PID=""
}

# ----------------------------------------------------------------------------- helpers

# N distinct free ports (the harness's free_port, retried until distinct), space-separated
stk_ports() {
    local n=$1 got=() p tries=0
    while [ "${#got[@]}" -lt "$n" ] && [ "$tries" -lt 100 ]; do
        tries=$((tries + 1))
        p=$(free_port) || continue
        [[ " ${got[*]} " == *" $p "* ]] && continue
        got+=("$p")
    done
    echo "${got[*]}"
}

# stk_up OUT STATE OIDC CTLOG REKOR FULCIO TUF TSA: scripts/up.sh; $S/OUT.out (stdout), $S/OUT.err (stderr)
stk_up() {
    local out=$1 st=$2
    env "${STK_BUILD_ENV[@]}" SIGSTACK_STATE="$st" SIGSTACK_OIDC_PORT="$3" SIGSTACK_CTLOG_PORT="$4" \
        SIGSTACK_REKOR_PORT="$5" SIGSTACK_FULCIO_PORT="$6" SIGSTACK_TUF_PORT="$7" SIGSTACK_TSA_PORT="$8" \
        SIGSTACK_EXTRA_OIDC_ISSUERS="$STK_MOCK_URL" timeout 2400 "$ROOT/scripts/up.sh" >"$S/$out.out" 2>"$S/$out.err"
}
stk_up_main() { # OUT: up.sh on the stack under test with its ports
    stk_up "$1" "$STK_STATE" "${STK_PORT[oidc]}" "${STK_PORT[ctlog]}" "${STK_PORT[rekor]}" "${STK_PORT[fulcio]}" "${STK_PORT[tuf]}" "${STK_PORT[tsa]}"
}
stk_up_err() { printf 'scripts/up.sh exit %s; stderr: %s; stdout: %s' "$2" "$(tail -c 1200 "$S/$1.err")" "$(head -c 400 "$S/$1.out")"; }
stk_down() { # OUT STATE
    SIGSTACK_STATE="$2" timeout 120 "$ROOT/scripts/down.sh" >"$S/$1.out" 2>&1
}

# alive PID: exists and is not a zombie
stk_alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
stk_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
stk_healthy() { "${CURL[@]}" -f --max-time 5 -o /dev/null "$1" 2>/dev/null; }

stk_tree_size() { "${CURL[@]}" "${STK_ENV[SIGSTACK_REKOR_URL]}/api/v1/log" 2>/dev/null | jq -r '.treeSize // empty' 2>/dev/null; }
# The Rekor v2 log's size (line 2 of its checkpoint): the log the signing config's clients write to.
stk_v2_size() { "${CURL[@]}" -f "${STK_ENV[SIGSTACK_REKOR_V2_URL]}/checkpoint" 2>/dev/null | sed -n 2p; }
stk_rekor_pub() { "${CURL[@]}" -f "${STK_ENV[SIGSTACK_REKOR_URL]}/api/v1/log/publicKey" 2>/dev/null; }
stk_sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

# Tokens: our development issuer (scripts/dev-token.sh, as a user would run it) and the mock.
stk_dev_token() {
    SIGSTACK_OIDC_ISSUER="${STK_ENV[SIGSTACK_OIDC_ISSUER]}" timeout 30 "$ROOT/scripts/dev-token.sh" "$@" 2>"$S/dev-token.err"
}
stk_mock_token() {
    local OIDC_URL=$STK_MOCK_URL # mint_token (fulcio.sh) talks to $OIDC_URL
    mint_token "$1" 2>"$S/mock-token.err"
}
stk_token_file() { # FILE TOKEN: write without a newline (cosign sends the file as the bearer value)
    printf '%s' "$2" >"$1"
}

# Clients. Output (stdout+stderr) in $S/OUT.out.
stk_py() { # HOME-NAME OUT ARGS...: the sigstore CLI
    local h="$S/home-py-$1" out=$2
    shift 2
    mkdir -p "$h"
    HOME="$h" XDG_DATA_HOME="$h/.local/share" XDG_CACHE_HOME="$h/.cache" XDG_CONFIG_HOME="$h/.config" COLUMNS=400 \
        timeout 180 "$VENV/bin/sigstore" "$@" >"$S/$out.out" 2>&1
}
stk_cos() { # HOME-NAME OUT ARGS...: Go cosign with its own HOME and TUF_ROOT
    local h="$S/home-cos-$1" t="$S/tufroot-cos-$1" out=$2
    shift 2
    mkdir -p "$h" "$t"
    HOME="$h" TUF_ROOT="$t" timeout 180 "$COSIGN" "$@" >"$S/$out.out" 2>&1
}
stk_js() { # OUT ARGS...: sigstore_js.js (sign / verify over a trusted root file)
    local out=$1
    shift
    mkdir -p "$S/home-js"
    HOME="$S/home-js" NODE_PATH="$SIGSTORE_JS_DIR/node_modules" timeout 120 node "$HERE/sigstore_js.js" "$@" >"$S/$out.out" 2>&1
}
stk_jstuf() { # OUT ARGS...: tuf_js.js sigstore-verify (sigstore.verify over our TUF mirror)
    local out=$1
    shift
    mkdir -p "$S/home-js"
    HOME="$S/home-js" NODE_PATH="$SIGSTORE_JS_DIR/node_modules" timeout 120 node "$HERE/tuf_js.js" "$@" >"$S/$out.out" 2>&1
}
stk_ours() { # OUT ARGS...: our cosign (cosign-cli) with its own HOME
    local out=$1
    shift
    mkdir -p "$S/home-ours"
    HOME="$S/home-ours" TUF_ROOT="$S/home-ours/tuf" timeout 180 "$BIN_DIR/cosign" "$@" >"$S/$out.out" 2>&1
}
stk_out() { printf 'exit %s: %s' "$2" "$(tail -c "${3:-1000}" "$S/$1.out" 2>/dev/null)"; }

# stk_verify CLIENT OUT BUNDLE ARTIFACT IDENTITY ISSUER: verify over the stack's trust files
# (sigstore-python: client_trust_config.json; sigstore-js and cosign: trusted_root.json)
stk_verify() {
    local c=$1 out=$2 b=$3 a=$4 id=$5 iss=$6
    case $c in
    py) stk_py verify "$out" --trust-config "${STK_ENV[SIGSTACK_CLIENT_TRUST_CONFIG]}" verify identity \
        --bundle "$b" --cert-identity "$id" --cert-oidc-issuer "$iss" "$a" ;;
    js) stk_js "$out" verify --trust-config "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$b" --artifact "$a" \
        --identity "$id" --issuer "$iss" ;;
    cosign) stk_cos files "$out" verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$b" \
        --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$a" ;;
    ours) stk_ours "$out" verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$b" \
        --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$a" ;;
    esac
}
stk_client_name() {
    case $1 in py) echo sigstore-python ;; js) echo sigstore-js ;; cosign) echo "cosign $COSIGN_VERSION" ;; ours) echo "our cosign" ;; esac
}

# stk_need NAME WHAT...: FAIL NAME (and return 1) unless every prerequisite holds.
# WHAT: up (the stack is up and <state>/env was read), mock (oidc-provider-mock up), py, js,
# cosign (the client is installed), file:PATH:WHAT-MADE-IT (a bundle from an earlier case).
stk_need() {
    local name=$1 w
    shift
    for w in "$@"; do
        case $w in
        up) [ "$STK_UP" = 1 ] || { fail "$name" "the stack is not up (see the 'stack: scripts/up.sh' case)"; return 1; } ;;
        mock) [ -n "$STK_MOCK_PID" ] && kill -0 "$STK_MOCK_PID" 2>/dev/null ||
            { fail "$name" "oidc-provider-mock is not running (see the 'stack: oidc-provider-mock' case)"; return 1; } ;;
        py) [ -x "$VENV/bin/sigstore" ] || { fail "$name" "sigstore-python venv missing ($VENV/bin/sigstore): see its install case"; return 1; } ;;
        js) sigstore_js_present || { fail "$name" "sigstore-js $SIGSTORE_JS_VERSION not installed in $SIGSTORE_JS_DIR (see its install case)"; return 1; } ;;
        cosign) [ -x "$COSIGN" ] || { fail "$name" "cosign $COSIGN_VERSION not installed ($COSIGN; see its install case)"; return 1; } ;;
        ours) [ -x "$BIN_DIR/cosign" ] || { fail "$name" "our cosign was not built ($BIN_DIR/cosign; see the build case)"; return 1; } ;;
        file:*)
            local rest=${w#file:}
            [ -s "${rest%%:*}" ] || { fail "$name" "no ${rest#*:}"; return 1; } ;;
        esac
    done
    return 0
}

# stk_refuse NAME CLIENT OUT BUNDLE ARTIFACT IDENTITY ISSUER REASON-ERE [JS-EXIT]: the client must
# refuse (non-zero exit) and say why (REASON-ERE in its output; for sigstore-js also its exit
# status: 2 = the identity policy refused, 1 = any other verification error).
stk_refuse() {
    local name=$1 c=$2 out=$3 b=$4 a=$5 id=$6 iss=$7 re=$8 jsrc=${9:-} rc
    stk_verify "$c" "$out" "$b" "$a" "$id" "$iss"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        fail "$name" "verification SUCCEEDED: $(stk_out "$out" 0 600)"
    elif [ "$rc" -ge 124 ]; then
        fail "$name" "no verdict (timeout/crash): $(stk_out "$out" "$rc")"
    elif ! grep -Eq "$re" "$S/$out.out" || { [ -n "$jsrc" ] && [ "$rc" != "$jsrc" ]; }; then
        fail "$name" "refused, but not for the expected reason (want /$re/${jsrc:+ and exit $jsrc}): $(stk_out "$out" "$rc")"
    else
        pass "$name ($(grep -Eo "$re" "$S/$out.out" | head -1))"
    fi
}

# ----------------------------------------------------------------------------- section

stack_section() {
    local name rc st bad tok f v p

    # --- 0. the mock issuer Fulcio is told to trust as well --------------------------------
    STK_MOCK_PORT=$(stk_ports 1)
    STK_MOCK_URL="http://127.0.0.1:$STK_MOCK_PORT"
    name="stack: oidc-provider-mock $OIDC_MOCK_VERSION up for SIGSTACK_EXTRA_OIDC_ISSUERS"
    if [ -x "$OIDC_VENV/bin/oidc-provider-mock" ]; then
        "$OIDC_VENV/bin/oidc-provider-mock" --host 127.0.0.1 --port "$STK_MOCK_PORT" \
            --user-claims "{\"sub\":\"$STK_IDENTITY_MOCK\",\"email\":\"$STK_IDENTITY_MOCK\",\"email_verified\":true}" \
            >"$S/oidc-mock.log" 2>&1 &
        STK_MOCK_PID=$!
        if wait_healthy "$STK_MOCK_URL/.well-known/openid-configuration" "$STK_MOCK_PID"; then
            pass "$name ($STK_MOCK_URL)"
        else
            fail "$name" "no discovery document at $STK_MOCK_URL: $(tail -c 600 "$S/oidc-mock.log")"
            kill "$STK_MOCK_PID" 2>/dev/null
            wait "$STK_MOCK_PID" 2>/dev/null
            STK_MOCK_PID=""
        fi
    else
        fail "$name" "$OIDC_VENV/bin/oidc-provider-mock missing (see the oidc-provider-mock install case)"
    fi

    # --- 1. up.sh on a fresh state dir -----------------------------------------------------
    # The binaries the harness's build step made (and the sections above tested): up.sh's default
    # path with SIGSTACK_NO_BUILD=1 ($CARGO_TARGET_DIR/debug, the same cargo command's output), so
    # up.sh never starts a second cargo (which would compile anything changed since the build step,
    # concurrently with whatever else builds). Other binaries: SIGSTACK_BIN_DIR.
    if [ -z "${REKOR_SERVER_BIN:-}" ] && [ "${INTEROP_PROFILE:-dev}" != release ] && [ "$BIN_DIR" = "$CARGO_TARGET_DIR/debug" ]; then
        STK_BUILD_ENV=(SIGSTACK_NO_BUILD=1)
    else
        STK_BUILD_ENV=(SIGSTACK_BIN_DIR="$BIN_DIR")
    fi
    read -r STK_PORT[oidc] STK_PORT[ctlog] STK_PORT[rekor] STK_PORT[fulcio] STK_PORT[tuf] STK_PORT[tsa] <<<"$(stk_ports 6)"
    local -A want_url=([SIGSTACK_OIDC_ISSUER]="http://127.0.0.1:${STK_PORT[oidc]}"
        [SIGSTACK_CTLOG_URL]="http://127.0.0.1:${STK_PORT[ctlog]}" [SIGSTACK_REKOR_URL]="http://127.0.0.1:${STK_PORT[rekor]}"
        [SIGSTACK_FULCIO_URL]="http://127.0.0.1:${STK_PORT[fulcio]}" [SIGSTACK_TUF_URL]="http://127.0.0.1:${STK_PORT[tuf]}"
        [SIGSTACK_TSA_URL]="http://127.0.0.1:${STK_PORT[tsa]}/api/v1/timestamp"
        [SIGSTACK_REKOR_V2_URL]="http://127.0.0.1:${STK_PORT[rekor]}/v2")
    name="stack: scripts/up.sh (fresh SIGSTACK_STATE, 6 free ports, SIGSTACK_EXTRA_OIDC_ISSUERS=mock) exits 0 and prints the URLs"
    local t0 t1 healthy_ms=""
    if [ -z "$SERVER_BIN" ] || [ -z "$BIN_DIR" ]; then
        fail "$name" "no binaries: the harness build failed (see the build case)"
    else
        t0=$(date +%s%N)
        stk_up_main up1
        rc=$?
        t1=$(date +%s%N)
        healthy_ms=$(sed -n 's/.*services healthy \([0-9][0-9]*\) ms after the build.*/\1/p' "$S/up1.out" | head -1)
        bad=""
        [ "$rc" -eq 0 ] || bad+="$(stk_up_err up1 "$rc"); "
        for v in "${!want_url[@]}"; do
            grep -qF "${want_url[$v]}" "$S/up1.out" || bad+="stdout does not show ${want_url[$v]} ($v); "
        done
        [ -n "$healthy_ms" ] || bad+="no 'services healthy N ms after the build' line; "
        if [ -z "$bad" ]; then
            pass "$name (services healthy $healthy_ms ms after the build; up.sh took $(((t1 - t0) / 1000000)) ms; ${STK_BUILD_ENV[*]})"
        else
            fail "$name" "$bad"
        fi
    fi

    name="stack: <state>/env exports every SIGSTACK_* variable (URLs on the chosen ports, absolute paths that exist)"
    local vars=(SIGSTACK_STATE SIGSTACK_FULCIO_URL SIGSTACK_REKOR_URL SIGSTACK_REKOR_V2_URL SIGSTACK_CTLOG_URL SIGSTACK_TUF_URL SIGSTACK_TSA_URL SIGSTACK_OIDC_ISSUER
        SIGSTACK_TRUSTED_ROOT SIGSTACK_SIGNING_CONFIG SIGSTACK_CLIENT_TRUST_CONFIG SIGSTACK_TUF_ROOT_JSON)
    if [ -s "$STK_STATE/env" ]; then
        # Sourced in a clean shell; printenv sees only what the file exports.
        env -i PATH="$PATH" bash -c '. "$1" >/dev/null 2>&1; shift; for v in "$@"; do printf "%s=%s\n" "$v" "$(printenv "$v")"; done' \
            _ "$STK_STATE/env" "${vars[@]}" >"$S/env.parsed" 2>&1
        while IFS='=' read -r v p; do STK_ENV[$v]=$p; done <"$S/env.parsed"
        bad=""
        for v in "${vars[@]}"; do
            p=${STK_ENV[$v]:-}
            if [ -z "$p" ]; then
                bad+="$v not exported; "
            elif [ -n "${want_url[$v]:-}" ]; then
                [ "$p" = "${want_url[$v]}" ] || bad+="$v=$p (want ${want_url[$v]}); "
            elif [ "${p#/}" = "$p" ] || [ ! -e "$p" ]; then
                bad+="$v=$p is not an absolute path that exists; "
            fi
        done
        [ "${STK_ENV[SIGSTACK_STATE]:-}" = "$(cd "$STK_STATE" && pwd)" ] || bad+="SIGSTACK_STATE=${STK_ENV[SIGSTACK_STATE]:-} (want $STK_STATE); "
        if [ -z "$bad" ]; then
            pass "$name"
            [ "$rc" = 0 ] && STK_UP=1
        else
            fail "$name" "$bad env file: $(head -c 800 "$STK_STATE/env")"
        fi
    else
        fail "$name" "$STK_STATE/env was not written"
    fi

    name="stack: every service answers at its URL (oidc-dev, ctlog-server, rekor-server, fulcio, timestamp-server, tuf-root /healthz)"
    if stk_need "$name" up; then
        bad=""
        for v in SIGSTACK_OIDC_ISSUER SIGSTACK_CTLOG_URL SIGSTACK_REKOR_URL SIGSTACK_FULCIO_URL SIGSTACK_TUF_URL SIGSTACK_TSA_URL; do
            stk_healthy "${STK_ENV[$v]%/api/v1/timestamp}/healthz" || bad+="$v ${STK_ENV[$v]%/api/v1/timestamp}/healthz does not answer 200; "
        done
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi
    name="stack: Fulcio /api/v2/configuration lists the dev issuer, its /workloads issuer and the mock"
    if stk_need "$name" up; then
        "${CURL[@]}" -f "${STK_ENV[SIGSTACK_FULCIO_URL]}/api/v2/configuration" -o "$S/fulcio-conf.json" 2>"$S/curl.err"
        local got
        got=$(jq -r '[.issuers[].issuerUrl] | sort | join(" ")' "$S/fulcio-conf.json" 2>/dev/null)
        local want
        want=$(printf '%s\n' "${STK_ENV[SIGSTACK_OIDC_ISSUER]}" "${STK_ENV[SIGSTACK_OIDC_ISSUER]}/workloads" "$STK_MOCK_URL" | sort | tr '\n' ' ')
        check "$name" "$([ "$got " = "$want" ] && echo 0 || echo 1)" \
            "issuers '$got' (want '$want'); body: $(head -c 600 "$S/fulcio-conf.json" 2>/dev/null) $(cat "$S/curl.err")"
    fi

    # --- 2a. sigstore-python ---------------------------------------------------------------
    local A_PY="$S/artifact-py.txt" B_PY="$S/artifact-py.sigstore.json" ID_PY=alice@example.com
    local A_PYM="$S/artifact-py-mock.txt" B_PYM="$S/artifact-py-mock.sigstore.json"
    local A_JS="$S/artifact-js.txt" B_JS="$S/artifact-js.sigstore.json" ID_JS=bob@example.com
    local A_COS="$S/artifact-cosign.txt" B_COS="$S/artifact-cosign.sigstore.json" ID_COS=carol@example.com
    local A_COST="$S/artifact-cosign-tuf.txt" B_COST="$S/artifact-cosign-tuf.sigstore.json" ID_COST=erin@example.com
    local A_OURS="$S/artifact-ours.txt" B_OURS="$S/artifact-ours.sigstore.json" ID_OURS=frank@example.com
    local B_OURK="$S/artifact-ours-key.sigstore.json" B_COSK="$S/artifact-cosign-key.sigstore.json"
    for f in "$A_PY" "$A_PYM" "$A_JS" "$A_COS" "$A_COST" "$A_OURS"; do
        printf 'sigstack stack artifact %s %s\n' "${f##*/}" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$f"
    done
    local ISS="${STK_ENV[SIGSTACK_OIDC_ISSUER]:-}"

    name="stack: sigstore-python --trust-config \$SIGSTACK_CLIENT_TRUST_CONFIG sign (dev-issuer token from scripts/dev-token.sh $ID_PY)"
    if stk_need "$name" up py; then
        tok=$(stk_dev_token "$ID_PY")
        if [ -z "$tok" ]; then
            fail "$name" "scripts/dev-token.sh $ID_PY printed no token: $(cat "$S/dev-token.err")"
        else
            stk_py tc py-sign --trust-config "${STK_ENV[SIGSTACK_CLIENT_TRUST_CONFIG]}" sign --identity-token "$tok" \
                --bundle "$B_PY" "$A_PY"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_PY" ] && echo 0 || echo 1)" "$(stk_out py-sign "$rc")"
        fi
    fi
    name="stack: sigstore-python --trust-config verify identity ($ID_PY, dev issuer)"
    if stk_need "$name" up py "file:$B_PY:bundle from the sigstore-python --trust-config sign case"; then
        stk_py tc py-verify --trust-config "${STK_ENV[SIGSTACK_CLIENT_TRUST_CONFIG]}" verify identity --bundle "$B_PY" \
            --cert-identity "$ID_PY" --cert-oidc-issuer "$ISS" "$A_PY"
        rc=$?
        check "$name" "$rc" "$(stk_out py-verify "$rc")"
    fi
    name="stack: sigstore-python --instance \$SIGSTACK_TUF_URL trust-instance \$SIGSTACK_TUF_ROOT_JSON"
    local py_inst=0
    if stk_need "$name" up py; then
        stk_py inst py-trust --instance "${STK_ENV[SIGSTACK_TUF_URL]}" trust-instance "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}"
        rc=$?
        [ "$rc" -eq 0 ] && py_inst=1
        check "$name" "$rc" "$(stk_out py-trust "$rc")"
    fi
    name="stack: sigstore-python --instance sign (oidc-provider-mock token, $STK_IDENTITY_MOCK; signing config from TUF)"
    if stk_need "$name" up py mock; then
        tok=$(stk_mock_token "$STK_IDENTITY_MOCK")
        if [ -z "$tok" ]; then
            fail "$name" "no token from oidc-provider-mock: $(cat "$S/mock-token.err") $(tail -c 400 "$S/oidc-mock.log")"
        elif [ "$py_inst" != 1 ]; then
            fail "$name" "trust-instance failed (see above)"
        else
            stk_py inst py-sign-inst --instance "${STK_ENV[SIGSTACK_TUF_URL]}" sign --identity-token "$tok" \
                --bundle "$B_PYM" "$A_PYM"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_PYM" ] && echo 0 || echo 1)" "$(stk_out py-sign-inst "$rc")"
        fi
    fi
    name="stack: sigstore-python --instance verify identity ($STK_IDENTITY_MOCK, mock issuer; trusted root from TUF)"
    if stk_need "$name" up py "file:$B_PYM:bundle from the sigstore-python --instance sign case"; then
        stk_py inst py-verify-inst --instance "${STK_ENV[SIGSTACK_TUF_URL]}" verify identity --bundle "$B_PYM" \
            --cert-identity "$STK_IDENTITY_MOCK" --cert-oidc-issuer "$STK_MOCK_URL" "$A_PYM"
        rc=$?
        check "$name" "$rc" "$(stk_out py-verify-inst "$rc")"
    fi

    # --- 2b. sigstore-js -------------------------------------------------------------------
    # sigstore-js writes to Rekor v1 (the `sigstore` package ignores the signing config), and
    # into a fresh v1 log its entry would be index 0, which proto3 JSON omits from the bundle
    # along with an empty proof, and sigstore-python's bundle model then refuses the file
    # ("logIndex: Field required"). Upstream Rekor behaves the same; give the v1 log an entry
    # first, through our cosign's legacy service flags (no signing config: Rekor v1).
    name="stack: our cosign sign-blob --use-signing-config=false --fulcio-url --rekor-url (v1) --timestamp-server-url; cosign $COSIGN_VERSION verifies"
    if stk_need "$name" up ours cosign; then
        local A_V1="$S/artifact-ours-v1.txt" B_V1="$S/artifact-ours-v1.sigstore.json" v1a v1b
        printf 'sigstack v1 artifact %s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$A_V1"
        stk_ours ours-v1 sign-blob --use-signing-config=false --fulcio-url "${STK_ENV[SIGSTACK_FULCIO_URL]}" \
            --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --oidc-issuer "$ISS" --timestamp-server-url "${STK_ENV[SIGSTACK_TSA_URL]}" \
            --identity-token "$(stk_dev_token "$ID_OURS")" --bundle "$B_V1" "$A_V1"
        v1a=$?
        stk_verify cosign ours-v1-go "$B_V1" "$A_V1" "$ID_OURS" "$ISS"
        v1b=$?
        local kv
        kv=$(jq -r '.verificationMaterial.tlogEntries[0].kindVersion.version' "$B_V1" 2>/dev/null)
        check "$name" "$([ "$v1a$v1b" = 00 ] && [ "$kv" = 0.0.1 ] && echo 0 || echo 1)" \
            "sign: $(stk_out ours-v1 "$v1a" 400); entry version '$kv' (want 0.0.1); Go verify: $(stk_out ours-v1-go "$v1b" 400)"
    fi
    name="stack: sigstore-js sign (dev-issuer token $ID_JS; Fulcio and Rekor from <state>/env)"
    if stk_need "$name" up js; then
        tok=$(stk_dev_token "$ID_JS")
        stk_token_file "$S/js-token" "$tok"
        if [ -z "$tok" ]; then
            fail "$name" "scripts/dev-token.sh $ID_JS printed no token: $(cat "$S/dev-token.err")"
        else
            stk_js js-sign sign --fulcio "${STK_ENV[SIGSTACK_FULCIO_URL]}" --rekor "${STK_ENV[SIGSTACK_REKOR_URL]}" \
                --token-file "$S/js-token" --artifact "$A_JS" --bundle "$B_JS"
            rc=$?
            if [ "$rc" -eq 0 ] && [ -s "$B_JS" ]; then
                pass "$name ($(tail -1 "$S/js-sign.out"))"
            else
                fail "$name" "$(stk_out js-sign "$rc")"
            fi
        fi
    fi
    name="stack: sigstore-js verify over \$SIGSTACK_TRUSTED_ROOT ($ID_JS, dev issuer)"
    if stk_need "$name" up js "file:$B_JS:bundle from the sigstore-js sign case"; then
        stk_verify js js-verify "$B_JS" "$A_JS" "$ID_JS" "$ISS"
        rc=$?
        check "$name" "$rc" "$(stk_out js-verify "$rc")"
    fi
    name="stack: sigstore-js sigstore.verify over the TUF mirror (tufMirrorURL=\$SIGSTACK_TUF_URL, tufRootPath=\$SIGSTACK_TUF_ROOT_JSON)"
    if stk_need "$name" up js "file:$B_JS:bundle from the sigstore-js sign case"; then
        stk_jstuf js-verify-tuf sigstore-verify --mirror "${STK_ENV[SIGSTACK_TUF_URL]}" --root "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}" \
            --cache "$S/js-tuf-cache" --bundle "$B_JS" --artifact "$A_JS" --identity "$ID_JS" --issuer "$ISS"
        rc=$?
        check "$name" "$rc" "$(stk_out js-verify-tuf "$rc")"
    fi

    # --- 2c. Go cosign ---------------------------------------------------------------------
    name="stack: cosign $COSIGN_VERSION sign-blob --signing-config \$SIGSTACK_SIGNING_CONFIG --trusted-root \$SIGSTACK_TRUSTED_ROOT ($ID_COS, token file)"
    if stk_need "$name" up cosign; then
        tok=$(stk_dev_token "$ID_COS")
        stk_token_file "$S/cosign-token" "$tok"
        if [ -z "$tok" ]; then
            fail "$name" "scripts/dev-token.sh $ID_COS printed no token: $(cat "$S/dev-token.err")"
        else
            stk_cos files cos-sign sign-blob --yes --identity-token "$S/cosign-token" \
                --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
                --bundle "$B_COS" "$A_COS"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_COS" ] && echo 0 || echo 1)" "$(stk_out cos-sign "$rc")"
        fi
    fi
    name="stack: cosign $COSIGN_VERSION verify-blob --trusted-root \$SIGSTACK_TRUSTED_ROOT ($ID_COS, dev issuer)"
    if stk_need "$name" up cosign "file:$B_COS:bundle from the cosign sign-blob (files) case"; then
        stk_verify cosign cos-verify "$B_COS" "$A_COS" "$ID_COS" "$ISS"
        rc=$?
        check "$name" "$rc" "$(stk_out cos-verify "$rc")"
    fi
    name="stack: cosign $COSIGN_VERSION initialize --mirror \$SIGSTACK_TUF_URL --root \$SIGSTACK_TUF_ROOT_JSON (TUF_ROOT in a temp dir)"
    local cos_init=0
    if stk_need "$name" up cosign; then
        stk_cos tuf cos-init initialize --mirror "${STK_ENV[SIGSTACK_TUF_URL]}" --root "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}"
        rc=$?
        local cached
        cached=$(find "$S/tufroot-cos-tuf" -path '*targets/trusted_root.json' 2>/dev/null | head -1)
        if [ "$rc" -eq 0 ] && [ -n "$cached" ] && cmp -s "$cached" "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}"; then
            cos_init=1
            pass "$name (cached trusted_root.json = \$SIGSTACK_TRUSTED_ROOT)"
        else
            fail "$name" "$(stk_out cos-init "$rc"); cached trusted_root.json '${cached:-none}' $([ -n "$cached" ] && { cmp -s "$cached" "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" && echo "= " || echo "!= "; })\$SIGSTACK_TRUSTED_ROOT"
        fi
    fi
    # Exactly the command up.sh prints and docs/quickstart.md gives: the token itself as the value.
    name="stack: cosign $COSIGN_VERSION sign-blob --identity-token \"\$TOKEN\" --bundle (the command up.sh prints; TOKEN=\$(scripts/dev-token.sh ...))"
    if stk_need "$name" up cosign; then
        if [ "$cos_init" != 1 ]; then
            fail "$name" "cosign initialize failed (see above)"
        else
            tok=$(stk_dev_token "$ID_COST")
            stk_cos tuf cos-sign-printed sign-blob --yes --identity-token "$tok" --bundle "$S/printed.sigstore.json" "$A_COST"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$S/printed.sigstore.json" ] && echo 0 || echo 1)" \
                "$(stk_out cos-sign-printed "$rc" 500); the token's JOSE header is $("$PY" "$HERE/stack_bundle.py" claims "$tok" 2>&1 | jq -c '._header' 2>/dev/null)"
        fi
    fi
    name="stack: cosign $COSIGN_VERSION sign-blob over TUF (signing_config.v0.2.json from our mirror; $ID_COST, token file)"
    if stk_need "$name" up cosign; then
        if [ "$cos_init" != 1 ]; then
            fail "$name" "cosign initialize failed (see above)"
        else
            stk_token_file "$S/cosign-tuf-token" "$(stk_dev_token "$ID_COST")"
            stk_cos tuf cos-sign-tuf sign-blob --yes --identity-token "$S/cosign-tuf-token" --bundle "$B_COST" "$A_COST"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_COST" ] && echo 0 || echo 1)" "$(stk_out cos-sign-tuf "$rc")"
        fi
    fi
    name="stack: cosign $COSIGN_VERSION verify-blob over TUF (trusted root from our mirror; $ID_COST)"
    if stk_need "$name" up cosign "file:$B_COST:bundle from the cosign sign-blob over TUF case"; then
        stk_cos tuf cos-verify-tuf verify-blob --bundle "$B_COST" --certificate-identity "$ID_COST" \
            --certificate-oidc-issuer "$ISS" "$A_COST"
        rc=$?
        check "$name" "$rc" "$(stk_out cos-verify-tuf "$rc")"
    fi

    # --- 2c'. our cosign (cosign-cli): keyless and key-based blobs with a signing config -------------
    name="stack: our cosign sign-blob --identity-token \"\$TOKEN\" --signing-config \$SIGSTACK_SIGNING_CONFIG --bundle ($ID_OURS)"
    if stk_need "$name" up ours; then
        tok=$(stk_dev_token "$ID_OURS")
        if [ -z "$tok" ]; then
            fail "$name" "scripts/dev-token.sh $ID_OURS printed no token: $(cat "$S/dev-token.err")"
        else
            stk_ours ours-sign sign-blob --identity-token "$tok" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
                --bundle "$B_OURS" "$A_OURS"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_OURS" ] && echo 0 || echo 1)" "$(stk_out ours-sign "$rc")"
        fi
    fi
    name="stack: our cosign verify-blob --trusted-root \$SIGSTACK_TRUSTED_ROOT ($ID_OURS, dev issuer)"
    if stk_need "$name" up ours "file:$B_OURS:bundle from our cosign sign-blob case"; then
        stk_verify ours ours-verify "$B_OURS" "$A_OURS" "$ID_OURS" "$ISS"
        rc=$?
        check "$name" "$rc" "$(stk_out ours-verify "$rc")"
    fi
    # No token at all: the device flow (RFC 8628) against the signing config's oidcUrls (our dev
    # issuer); the "person" approves the printed code on the issuer's page with curl.
    name="stack: our sign-blob without a token: device flow via the signing config's oidcUrls, approved on the issuer's page; cosign $COSIGN_VERSION verifies"
    if stk_need "$name" up ours cosign; then
        local B_DEV="$S/device.sigstore.json" code="" dpid d1 d2 d3=1 i
        stk_ours ours-device sign-blob --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --bundle "$B_DEV" "$A_OURS" </dev/null &
        dpid=$!
        for i in $(seq 100); do
            code=$(sed -n 's/.*Enter the verification code \([A-Z]*\) in your browser.*/\1/p' "$S/ours-device.out" 2>/dev/null | head -1)
            [ -n "$code" ] && break
            sleep 0.2
        done
        "${CURL[@]}" -f -o "$S/device-approve.html" --data-urlencode "user_code=$code" \
            --data-urlencode "username=grace@example.com" "$ISS/device" 2>"$S/device-approve.err"
        d1=$?
        wait "$dpid"
        d2=$?
        if [ "$d2" -eq 0 ]; then
            stk_cos files device-verify verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_DEV" \
                --certificate-identity grace@example.com --certificate-oidc-issuer "$ISS" "$A_OURS"
            d3=$?
        fi
        check "$name" "$([ -n "$code" ] && [ "$d1$d2$d3" = 000 ] && echo 0 || echo 1)" \
            "code '${code}'; approve: exit $d1 $(cat "$S/device-approve.err" 2>/dev/null); our sign: $(stk_out ours-device "$d2" 400); Go verify: $(stk_out device-verify "$d3" 300)"
    fi

    # No token, on the browser flow (authorization code + PKCE, loopback redirect): curl plays the
    # browser, from the sign-in URL our cosign prints to the redirect back to its listener; once
    # at our dev issuer (the signing config's oidcUrls), once at oidc-provider-mock.
    name="stack: our sign-blob --fulcio-auth-flow=normal: browser sign-in (PKCE, loopback redirect) at the dev issuer and at oidc-provider-mock $OIDC_MOCK_VERSION; cosign $COSIGN_VERSION verifies"
    if stk_need "$name" up ours cosign mock; then
        local idp bpid bout url base query back b1 b2 b3 detail="" all=0
        for idp in dev mock; do
            local -a extra=(--signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}") post=()
            local id=heidi@example.com iss=$ISS
            if [ "$idp" = mock ]; then
                # Another issuer than the signing config's: the service flags, as in Go cosign;
                # the mock authenticates clients, so a secret (any) goes with the code.
                printf 'x\n' >"$S/mock-client-secret"
                extra=(--use-signing-config=false --fulcio-url "${STK_ENV[SIGSTACK_FULCIO_URL]}"
                    --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --oidc-issuer "$STK_MOCK_URL"
                    --oidc-client-secret-file "$S/mock-client-secret")
                id=$STK_IDENTITY_MOCK
                iss=$STK_MOCK_URL
            fi
            bout=ours-browser-$idp
            stk_ours "$bout" sign-blob --fulcio-auth-flow=normal \
                "${extra[@]}" --bundle "$S/browser-$idp.sigstore.json" "$A_OURS" </dev/null &
            bpid=$!
            url=""
            for i in $(seq 100); do
                url=$(grep -m1 -o 'http[^ ]*[?&]code_challenge=[^ ]*' "$S/$bout.out" 2>/dev/null)
                [ -n "$url" ] && break
                sleep 0.2
            done
            base=${url%%\?*}
            query=${url#*\?}
            # The sign-in form: the dev issuer takes the request in the body (its page's hidden
            # fields) plus a username; the mock takes the query plus its `sub` field.
            if [ "$idp" = dev ]; then
                post=(--data "$query" --data-urlencode "username=$id" "$base")
            else
                post=(--data-urlencode "sub=$id" "$url")
            fi
            back=$("${CURL[@]}" -s -o /dev/null -w '%{redirect_url}' "${post[@]}" 2>"$S/$bout.curl.err")
            "${CURL[@]}" -fsS -o "$S/$bout.callback.html" "$back" 2>>"$S/$bout.curl.err"
            b1=$?
            wait "$bpid"
            b2=$?
            b3=1
            if [ "$b2" -eq 0 ]; then
                stk_cos files "$bout-verify" verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
                    --bundle "$S/browser-$idp.sigstore.json" --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$A_OURS"
                b3=$?
            fi
            [ -n "$url" ] && [ "$b1$b2$b3" = 000 ] && grep -q 'Auth Successful' "$S/$bout.callback.html" || all=1
            detail+="[$idp] redirect '${back:0:60}...'; callback: exit $b1 $(tail -c 200 "$S/$bout.curl.err" 2>/dev/null); our sign: $(stk_out "$bout" "$b2" 300); Go verify: $(stk_out "$bout-verify" "$b3" 200) "
        done
        check "$name" "$all" "$detail"
    fi

    # The GitHub Actions ambient provider: a stand-in for the runner's token endpoint (python3)
    # hands out a dev-issuer token to a bearer with the request token, for audience=sigstore.
    name="stack: our sign-blob with no token on a (simulated) GitHub Actions runner: ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN ambient provider; cosign $COSIGN_VERSION verifies"
    if stk_need "$name" up ours cosign; then
        local gport gpid g1 g2 gtok
        gport=$(stk_ports 1)
        gtok=$(stk_dev_token kate@example.com)
        GH_TOKEN_VALUE="$gtok" python3 -c '
import http.server, json, os, sys, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        ok = self.headers.get("Authorization") == "Bearer runner-request-token" and q.get("audience") == ["sigstore"]
        body = json.dumps({"value": os.environ["GH_TOKEN_VALUE"]} if ok else {"message": "no"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$gport" >"$S/gh-endpoint.log" 2>&1 &
        gpid=$!
        for i in $(seq 50); do stk_listening "$gport" && break; sleep 0.1; done
        ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$gport/token?api-version=2.0" ACTIONS_ID_TOKEN_REQUEST_TOKEN=runner-request-token \
            stk_ours ours-ghactions sign-blob --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --bundle "$S/ghactions.sigstore.json" "$A_OURS" </dev/null
        g1=$?
        kill "$gpid" 2>/dev/null
        wait "$gpid" 2>/dev/null
        g2=1
        if [ "$g1" -eq 0 ]; then
            stk_cos files ghactions-verify verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/ghactions.sigstore.json" \
                --certificate-identity kate@example.com --certificate-oidc-issuer "$ISS" "$A_OURS"
            g2=$?
        fi
        check "$name" "$([ "$g1$g2" = 00 ] && echo 0 || echo 1)" \
            "our sign: $(stk_out ours-ghactions "$g1" 300); Go verify: $(stk_out ghactions-verify "$g2" 300)"
    fi

    # Key-based, with a Rekor entry: our bundle (public-key hint) for Go cosign, and Go's for ours.
    name="stack: key bundles both ways: our sign-blob --key --bundle -> cosign $COSIGN_VERSION verify-blob --key, and back; each side also signs with the other's encrypted key file"
    if stk_need "$name" up ours cosign; then
        rm -f "$S/kours.key" "$S/kours.pub" "$S/kgo.key" "$S/kgo.pub"
        (cd "$S" && COSIGN_PASSWORD=kp timeout 60 "$BIN_DIR/cosign" generate-key-pair --output-key-prefix kours >"$S/kgen.out" 2>&1 &&
            COSIGN_PASSWORD=kp HOME="$S/home-cos-files" timeout 60 "$COSIGN" generate-key-pair --output-key-prefix kgo >>"$S/kgen.out" 2>&1)
        COSIGN_PASSWORD=kp stk_ours ours-ksign sign-blob --key "$S/kours.key" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --bundle "$B_OURK" "$A_OURS"
        local r1=$? r2 r3 r4
        stk_cos files cos-kverify verify-blob --key "$S/kours.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_OURK" "$A_OURS"
        r2=$?
        COSIGN_PASSWORD=kp stk_cos files cos-ksign sign-blob --yes --key "$S/kgo.key" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_COSK" "$A_OURS"
        r3=$?
        stk_ours ours-kverify verify-blob --key "$S/kgo.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_COSK" "$A_OURS"
        r4=$?
        stk_ours ours-kverify-neg verify-blob --key "$S/kours.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_COSK" "$A_OURS"
        local r5=$?
        # Each side signs with the encrypted key file the other side generated.
        COSIGN_PASSWORD=kp stk_ours ours-ksign-go sign-blob --key "$S/kgo.key" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --bundle "$S/ours-with-go-key.sigstore.json" "$A_OURS"
        local r6=$? r7 r8 r9
        stk_cos files cos-kverify-x verify-blob --key "$S/kgo.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$S/ours-with-go-key.sigstore.json" "$A_OURS"
        r7=$?
        COSIGN_PASSWORD=kp stk_cos files cos-ksign-ours sign-blob --yes --key "$S/kours.key" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/go-with-our-key.sigstore.json" "$A_OURS"
        r8=$?
        stk_ours ours-kverify-x verify-blob --key "$S/kours.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$S/go-with-our-key.sigstore.json" "$A_OURS"
        r9=$?
        check "$name" "$([ "$r1$r2$r3$r4$r6$r7$r8$r9" = 00000000 ] && [ "$r5" = 1 ] && echo 0 || echo 1)" \
            "keygen: $(tail -c 300 "$S/kgen.out"); our sign: $(stk_out ours-ksign "$r1" 400); Go verify: $(stk_out cos-kverify "$r2" 400); Go sign: $(stk_out cos-ksign "$r3" 400); our verify: $(stk_out ours-kverify "$r4" 400); our verify with the wrong key (want exit 1): $(stk_out ours-kverify-neg "$r5" 300); our sign with Go's key file: $(stk_out ours-ksign-go "$r6" 300); Go verify of it: $(stk_out cos-kverify-x "$r7" 300); Go sign with our key file: $(stk_out cos-ksign-ours "$r8" 300); our verify of it: $(stk_out ours-kverify-x "$r9" 300)"
    fi

    # A key in a PKCS#11 token (SoftHSM2, made by `tuf-root keygen --out pkcs11:...`): our
    # sign-blob --key pkcs11:... records it in Rekor; Go cosign verifies with `cosign public-key`'s PEM.
    name="stack: our sign-blob --key pkcs11: (SoftHSM2 token, Rekor entry) -> cosign $COSIGN_VERSION verify-blob --key <our public-key output>"
    if stk_need "$name" up ours cosign; then
        local H="$S/hsm" MOD=/usr/lib/softhsm/libsofthsm2.so p1 p2 p3 p4
        mkdir -p "$H/tokens"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$H/tokens" >"$H/softhsm2.conf"
        local HURI="pkcs11:token=cosign-interop;object=signer?module-path=$MOD"
        SOFTHSM2_CONF="$H/softhsm2.conf" softhsm2-util --init-token --free --label cosign-interop --pin 2324 --so-pin 1234 \
            >"$S/hsm-init.out" 2>&1
        p1=$?
        SOFTHSM2_CONF="$H/softhsm2.conf" SIGSTACK_PKCS11_PIN=2324 "$BIN_DIR/tuf-root" keygen --out "$HURI" >>"$S/hsm-init.out" 2>&1 || p1=1
        SOFTHSM2_CONF="$H/softhsm2.conf" COSIGN_PKCS11_PIN=2324 stk_ours hsm-pub public-key --key "$HURI" --outfile "$H/hsm.pub"
        p2=$?
        SOFTHSM2_CONF="$H/softhsm2.conf" COSIGN_PKCS11_PIN=2324 stk_ours hsm-sign sign-blob --key "$HURI" \
            --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --bundle "$H/hsm.sigstore.json" "$A_OURS"
        p3=$?
        stk_cos files hsm-go-verify verify-blob --key "$H/hsm.pub" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$H/hsm.sigstore.json" "$A_OURS"
        p4=$?
        check "$name" "$([ "$p1$p2$p3$p4" = 0000 ] && echo 0 || echo 1)" \
            "token + keygen: exit $p1 $(tail -c 300 "$S/hsm-init.out"); public-key: $(stk_out hsm-pub "$p2" 300); sign: $(stk_out hsm-sign "$p3" 300); Go verify: $(stk_out hsm-go-verify "$p4" 300)"
    fi

    # Attestations (in-toto statement in DSSE, dsse entry in Rekor), both ways with Go cosign.
    name="stack: attestations both ways: our attest-blob --type slsaprovenance -> cosign $COSIGN_VERSION verify-blob-attestation, Go attest-blob (custom) -> ours"
    local B_OURA="$S/att-ours.sigstore.json" B_COSA="$S/att-cosign.sigstore.json"
    if stk_need "$name" up ours cosign; then
        printf '{"buildType":"https://example.com/build","builder":{"id":"https://example.com/ci"}}\n' >"$S/pred-slsa.json"
        printf 'custom predicate %s\n' "$(date +%s)" >"$S/pred-custom.txt"
        stk_ours ours-att attest-blob --identity-token "$(stk_dev_token "$ID_OURS")" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --predicate "$S/pred-slsa.json" --type slsaprovenance --bundle "$B_OURA" "$A_OURS"
        local a1=$? a2 a3 a4 a5 a6
        stk_cos files cos-att-verify verify-blob-attestation --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_OURA" \
            --type slsaprovenance --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        a2=$?
        stk_token_file "$S/cosign-att-token" "$(stk_dev_token "$ID_COS")"
        stk_cos files cos-att attest-blob --yes --identity-token "$S/cosign-att-token" --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" \
            --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --predicate "$S/pred-custom.txt" --bundle "$B_COSA" "$A_COS"
        a3=$?
        stk_ours ours-att-verify verify-blob-attestation --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_COSA" \
            --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_COS"
        a4=$?
        # Refusals: the default --type custom on a SLSA attestation, and another artifact.
        stk_ours ours-att-type verify-blob-attestation --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_OURA" \
            --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        a5=$?
        stk_ours ours-att-art verify-blob-attestation --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$B_COSA" \
            --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        a6=$?
        check "$name" "$([ "$a1$a2$a3$a4" = 0000 ] && [ "$a5" = 1 ] && grep -q 'none of the attestations matched the predicate type' "$S/ours-att-type.out" &&
            [ "$a6" = 1 ] && grep -q "no subject of the in-toto statement" "$S/ours-att-art.out" && echo 0 || echo 1)" \
            "our attest: $(stk_out ours-att "$a1" 400); Go verify: $(stk_out cos-att-verify "$a2" 400); Go attest: $(stk_out cos-att "$a3" 400); our verify: $(stk_out ours-att-verify "$a4" 400); wrong type (want 1): $(stk_out ours-att-type "$a5" 300); wrong artifact (want 1): $(stk_out ours-att-art "$a6" 300)"
    fi

    # Go cosign's legacy bundle file (--new-bundle-format=false, service flags; Go needs the
    # CT log key and Fulcio chain from the legacy SIGSTORE_* variables), read by our verify-blob.
    name="stack: our cosign verify-blob reads cosign $COSIGN_VERSION's legacy bundle (--new-bundle-format=false; keyless) and refuses another artifact"
    if stk_need "$name" up ours cosign; then
        stk_token_file "$S/cosign-legacy-token" "$(stk_dev_token "$ID_COS")"
        SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="$STK_STATE/ctlog/ctlog.pub.pem" SIGSTORE_ROOT_FILE="$STK_STATE/fulcio/ca/chain.pem" \
            stk_cos legacy cos-legacy sign-blob --yes --identity-token "$S/cosign-legacy-token" --new-bundle-format=false \
            --use-signing-config=false --fulcio-url "${STK_ENV[SIGSTACK_FULCIO_URL]}" --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" \
            --oidc-issuer "$ISS" --bundle "$S/legacy.json" "$A_COS"
        local l1=$? l2 l3
        stk_ours ours-legacy verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/legacy.json" \
            --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_COS"
        l2=$?
        stk_ours ours-legacy-neg verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/legacy.json" \
            --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        l3=$?
        check "$name" "$([ "$l1$l2" = 00 ] && jq -e '.base64Signature and .rekorBundle.SignedEntryTimestamp' "$S/legacy.json" >/dev/null 2>&1 &&
            [ "$l3" = 1 ] && echo 0 || echo 1)" \
            "Go sign: $(stk_out cos-legacy "$l1" 400); our verify: $(stk_out ours-legacy "$l2" 400); other artifact (want 1): $(stk_out ours-legacy-neg "$l3" 300)"
    fi

    # The legacy detached form: a signature file and a certificate file, no bundle, the log entry
    # looked up online in --rekor-url, and the trust material only from the SIGSTORE_* variables
    # (Fulcio chain, Rekor key, CT key), both ways between Go cosign and ours.
    name="stack: --certificate + --signature with SIGSTORE_* trust and an online Rekor lookup, cosign $COSIGN_VERSION <-> our cosign, and a wrong root refused"
    if stk_need "$name" up ours cosign; then
        local LD=$S/legacy-detached d1 d2 d3 d4 d5
        mkdir -p "$LD"
        stk_rekor_pub >"$LD/rekor.pub"
        local -a LEGACY_ENV=(SIGSTORE_ROOT_FILE="$STK_STATE/fulcio/ca/chain.pem"
            SIGSTORE_REKOR_PUBLIC_KEY="$LD/rekor.pub" SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="$STK_STATE/ctlog/ctlog.pub.pem")
        # Functions cannot go through env(1): the variables are exported in a subshell.
        with_legacy() { (export "${LEGACY_ENV[@]}" && "$@"); }
        stk_token_file "$LD/cos-token" "$(stk_dev_token "$ID_COS")"
        with_legacy stk_cos legacy cos-detached-sign sign-blob --yes --identity-token "$LD/cos-token" \
            --new-bundle-format=false --use-signing-config=false --fulcio-url "${STK_ENV[SIGSTACK_FULCIO_URL]}" \
            --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --oidc-issuer "$ISS" \
            --output-signature "$LD/cos.sig" --output-certificate "$LD/cos.crt" "$A_COS"
        d1=$?
        with_legacy stk_ours ours-detached-verify verify-blob --certificate "$LD/cos.crt" --signature "$LD/cos.sig" \
            --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_COS"
        d2=$?
        stk_token_file "$LD/ours-token" "$(stk_dev_token "$ID_OURS")"
        stk_ours ours-detached-sign sign-blob --yes --identity-token "$LD/ours-token" \
            --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --new-bundle-format=false --output-signature "$LD/ours.sig" --output-certificate "$LD/ours.crt" "$A_OURS"
        d3=$?
        with_legacy stk_cos legacy cos-detached-verify verify-blob --certificate "$LD/ours.crt" --signature "$LD/ours.sig" \
            --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        d4=$?
        # Another self-signed CA as SIGSTORE_ROOT_FILE: the chain no longer verifies.
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$LD/other.key" \
            -out "$LD/other.pem" -days 2 -subj "/O=other/CN=other root" \
            -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
        LEGACY_ENV[0]=SIGSTORE_ROOT_FILE="$LD/other.pem"
        with_legacy stk_ours ours-detached-neg verify-blob --certificate "$LD/cos.crt" \
            --signature "$LD/cos.sig" --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --certificate-identity "$ID_COS" \
            --certificate-oidc-issuer "$ISS" "$A_COS"
        d5=$?
        check "$name" "$([ "$d1$d2$d3$d4" = 0000 ] && [ "$d5" = 1 ] && grep -q 'does not chain to a trusted CA' "$S/ours-detached-neg.out" && echo 0 || echo 1)" \
            "Go sign: $(stk_out cos-detached-sign "$d1" 300); our verify: $(stk_out ours-detached-verify "$d2" 300); our sign: $(stk_out ours-detached-sign "$d3" 300); Go verify: $(stk_out cos-detached-verify "$d4" 300); other root (want 1): $(stk_out ours-detached-neg "$d5" 300)"
    fi

    # Trust documents made by our `trusted-root create` / `signing-config create` from the
    # stack's public material: Go cosign signs with that signing config and verifies with that
    # root (its own bundle and ours), and ours verifies Go's.
    name="stack: our trusted-root create + signing-config create from the stack's keys (Rekor v1 and v2, TSA); cosign $COSIGN_VERSION signs and verifies with them"
    if stk_need "$name" up ours cosign "file:$B_OURS:bundle from our cosign sign-blob case"; then
        local TC="$S/created" t1 t2 t3 t4 t5
        mkdir -p "$TC"
        "${CURL[@]}" -fsS "${STK_ENV[SIGSTACK_REKOR_URL]}/api/v1/log/publicKey" -o "$TC/rekor.pub" 2>"$TC/curl.err"
        stk_ours tc-root trusted-root create --out "$TC/trusted_root.json" \
            --fulcio "url=${STK_ENV[SIGSTACK_FULCIO_URL]},certificate-chain=$STK_STATE/fulcio/ca/chain.pem" \
            --rekor "url=${STK_ENV[SIGSTACK_REKOR_URL]},public-key=$TC/rekor.pub,start-time=2020-01-01T00:00:00Z" \
            --rekor "url=${STK_ENV[SIGSTACK_REKOR_V2_URL]},public-key=$STK_STATE/rekor/v2/log.pub.pem,start-time=2020-01-01T00:00:00Z,origin=127.0.0.1" \
            --ctfe "url=${STK_ENV[SIGSTACK_CTLOG_URL]},public-key=$STK_STATE/ctlog/ctlog.pub.pem,start-time=2020-01-01T00:00:00Z" \
            --tsa "url=${STK_ENV[SIGSTACK_TSA_URL]},certificate-chain=$STK_STATE/tsa/chain.pem"
        t1=$?
        stk_ours tc-sc signing-config create --out "$TC/signing_config.json" \
            --fulcio "url=${STK_ENV[SIGSTACK_FULCIO_URL]},api-version=1,start-time=2020-01-01T00:00:00Z,operator=interop" \
            --rekor "url=${STK_ENV[SIGSTACK_REKOR_V2_URL]},api-version=2,start-time=2020-01-01T00:00:00Z,operator=interop" \
            --rekor "url=${STK_ENV[SIGSTACK_REKOR_URL]},api-version=1,start-time=2020-01-01T00:00:00Z,operator=interop" \
            --tsa "url=${STK_ENV[SIGSTACK_TSA_URL]},api-version=1,start-time=2020-01-01T00:00:00Z,operator=interop" \
            --oidc-provider "url=$ISS,api-version=1,start-time=2020-01-01T00:00:00Z,operator=interop"
        t2=$?
        stk_token_file "$S/cosign-tc-token" "$(stk_dev_token "$ID_COS")"
        stk_cos files tc-go-sign sign-blob --yes --identity-token "$S/cosign-tc-token" --signing-config "$TC/signing_config.json" \
            --trusted-root "$TC/trusted_root.json" --bundle "$TC/go.sigstore.json" "$A_COS"
        t3=$?
        stk_cos files tc-go-verify verify-blob --trusted-root "$TC/trusted_root.json" --bundle "$B_OURS" \
            --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        t4=$?
        stk_ours tc-ours-verify verify-blob --trusted-root "$TC/trusted_root.json" --bundle "$TC/go.sigstore.json" \
            --certificate-identity "$ID_COS" --certificate-oidc-issuer "$ISS" "$A_COS"
        t5=$?
        check "$name" "$([ "$t1$t2$t3$t4$t5" = 00000 ] && echo 0 || echo 1)" \
            "trusted-root create: $(stk_out tc-root "$t1" 300); signing-config create: $(stk_out tc-sc "$t2" 300); Go sign: $(stk_out tc-go-sign "$t3" 300); Go verify ours: $(stk_out tc-go-verify "$t4" 300); ours verify Go's: $(stk_out tc-ours-verify "$t5" 300)"
    fi

    # Over TUF: initialize from our mirror, then no trust files at all.
    name="stack: our cosign initialize --mirror \$SIGSTACK_TUF_URL --root \$SIGSTACK_TUF_ROOT_JSON --root-checksum sha256:... (as up.sh prints, plus the checksum)"
    local ours_init=0 B_OURT="$S/artifact-ours-tuf.sigstore.json"
    if stk_need "$name" up ours; then
        stk_ours ours-init initialize --mirror "${STK_ENV[SIGSTACK_TUF_URL]}" --root "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}" \
            --root-checksum "sha256:$(stk_sha "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}")"
        rc=$?
        local ocached
        ocached=$(find "$S/home-ours/tuf" -path '*targets/trusted_root.json' 2>/dev/null | head -1)
        if [ "$rc" -eq 0 ] && [ -n "$ocached" ] && cmp -s "$ocached" "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}"; then
            ours_init=1
            pass "$name (cached trusted_root.json = \$SIGSTACK_TRUSTED_ROOT)"
        else
            fail "$name" "$(stk_out ours-init "$rc"); cached trusted_root.json '${ocached:-none}'"
        fi
    fi
    name="stack: our cosign sign-blob over TUF (no --signing-config; $ID_OURS) and verify-blob over TUF (the commands up.sh prints) (no --trusted-root), also of cosign $COSIGN_VERSION's TUF bundle"
    if stk_need "$name" up ours; then
        if [ "$ours_init" != 1 ]; then
            fail "$name" "our cosign initialize failed (see above)"
        else
            stk_ours ours-sign-tuf sign-blob --identity-token "$(stk_dev_token "$ID_OURS")" --bundle "$B_OURT" "$A_OURS"
            rc=$?
            stk_ours ours-verify-tuf verify-blob --bundle "$B_OURT" --certificate-identity "$ID_OURS" \
                --certificate-oidc-issuer "$ISS" "$A_OURS"
            st=$?
            local r3=1
            if [ -s "$B_COST" ]; then
                stk_ours ours-verify-tuf-go verify-blob --bundle "$B_COST" --certificate-identity "$ID_COST" \
                    --certificate-oidc-issuer "$ISS" "$A_COST"
                r3=$?
            fi
            check "$name" "$([ "$rc$st$r3" = 000 ] && echo 0 || echo 1)" \
                "sign: $(stk_out ours-sign-tuf "$rc" 400); verify: $(stk_out ours-verify-tuf "$st" 400); verify Go's: $(stk_out ours-verify-tuf-go "$r3" 400)"
        fi
    fi

    # --- 2d. cross-verification: every client's bundle, verified by the others --------------------
    local -A CB=([py]="$B_PY" [js]="$B_JS" [cosign]="$B_COS" [ours]="$B_OURS") \
        CA=([py]="$A_PY" [js]="$A_JS" [cosign]="$A_COS" [ours]="$A_OURS") \
        CID=([py]="$ID_PY" [js]="$ID_JS" [cosign]="$ID_COS" [ours]="$ID_OURS")
    local signer verifier reqv
    for signer in py js cosign ours; do
        for verifier in py js cosign ours; do
            [ "$signer" = "$verifier" ] && continue
            name="stack: cross: $(stk_client_name "$verifier") verifies the $(stk_client_name "$signer") bundle"
            reqv=$verifier
            stk_need "$name" up "$reqv" "file:${CB[$signer]}:bundle from the $(stk_client_name "$signer") sign case" || continue
            stk_verify "$verifier" "x-$verifier-$signer" "${CB[$signer]}" "${CA[$signer]}" "${CID[$signer]}" "$ISS"
            rc=$?
            check "$name" "$rc" "$(stk_out "x-$verifier-$signer" "$rc")"
        done
    done
    name="stack: cross: cosign $COSIGN_VERSION and sigstore-js verify the sigstore-python bundle signed with the mock token"
    if stk_need "$name" up cosign js "file:$B_PYM:bundle from the sigstore-python --instance sign case"; then
        stk_verify cosign x-cosign-pym "$B_PYM" "$A_PYM" "$STK_IDENTITY_MOCK" "$STK_MOCK_URL"
        rc=$?
        stk_verify js x-js-pym "$B_PYM" "$A_PYM" "$STK_IDENTITY_MOCK" "$STK_MOCK_URL"
        st=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" \
            "cosign: $(stk_out x-cosign-pym "$rc" 500); sigstore-js: $(stk_out x-js-pym "$st" 500)"
    fi

    # --- 2e. refusals ------------------------------------------------------------------------
    # Each verifier gets its own client's bundle; the tampered copies keep valid JSON/DER.
    local c cn reqs re_id re_iss re_art re_sig re_cert jid=""
    printf 'tampered\n' >"$S/tampered.txt"
    for c in cosign py js ours; do
        cn=$(stk_client_name "$c")
        rm -f "$S/tamper.err"
        if [ -s "${CB[$c]}" ]; then
            "$PY" "$HERE/stack_bundle.py" tamper "${CB[$c]}" "$S/tampered-sig-$c.json" sig 2>"$S/tamper.err" &&
                "$PY" "$HERE/stack_bundle.py" tamper "${CB[$c]}" "$S/tampered-cert-$c.json" cert 2>>"$S/tamper.err" ||
                echo "tamper failed: $(cat "$S/tamper.err")" >&2
            cat "${CA[$c]}" "$S/tampered.txt" >"$S/tampered-$c.txt"
        fi
        case $c in
        cosign)
            re_id='expected SAN value "mallory@example.com", got "'"${CID[$c]}"'"'
            re_iss='expected issuer value "'"$STK_MOCK_URL"'", got "'"$ISS"'"'
            re_art='invalid signature|signature does not match|digest'
            re_sig='signature does not match|invalid signature'
            re_cert='certificate does not match|x509|certificate signed by unknown authority|certificate chain'
            jid=""
            ;;
        py)
            re_id="SANs do not match mallory@example.com"
            re_iss="OIDCIssuer does not match \(got '$ISS', expected '$STK_MOCK_URL'\)"
            re_art='message digest mismatch|Signature is invalid'
            # A Rekor v2 bundle's only time is the TSA's, over the original signature.
            re_sig='Signature is invalid|not enough sources of verified time'
            re_cert='certificate chain|signature does not match|candidates exhausted'
            jid=""
            ;;
        js)
            re_id='PolicyError'
            re_iss='PolicyError'
            re_art='SIGNATURE_ERROR|TLOG_BODY_ERROR|signature verification failed|artifact'
            re_sig='SIGNATURE_ERROR|TLOG_BODY_ERROR|signature'
            re_cert='CERTIFICATE_ERROR|TLOG_BODY_ERROR|certificate'
            jid=2
            ;;
        ours)
            re_id='certificate identity "'"${CID[$c]}"'" does not match "mallory@example.com"'
            re_iss='certificate issuer "'"$ISS"'" does not match "'"$STK_MOCK_URL"'"'
            re_art="artifact's digest does not match"
            re_sig='logged signature is not the bundle|signature: over the artifact'
            re_cert='certificate'
            jid=""
            ;;
        esac
        reqs=(up "$c" "file:${CB[$c]}:bundle from the $cn sign case")
        name="stack: refuse: $cn verify with the wrong identity (mallory@example.com)"
        stk_need "$name" "${reqs[@]}" && stk_refuse "$name" "$c" "neg-id-$c" "${CB[$c]}" "${CA[$c]}" mallory@example.com "$ISS" "$re_id" "$jid"
        name="stack: refuse: $cn verify with the wrong issuer (the mock, also trusted by Fulcio)"
        stk_need "$name" "${reqs[@]}" mock && stk_refuse "$name" "$c" "neg-iss-$c" "${CB[$c]}" "${CA[$c]}" "${CID[$c]}" "$STK_MOCK_URL" "$re_iss" "$jid"
        [ "$c" = js ] && jid=1
        name="stack: refuse: $cn verify of a tampered artifact (one line appended)"
        stk_need "$name" "${reqs[@]}" && stk_refuse "$name" "$c" "neg-art-$c" "${CB[$c]}" "$S/tampered-$c.txt" "${CID[$c]}" "$ISS" "$re_art" "$jid"
        name="stack: refuse: $cn verify of the bundle with one bit of the signature flipped"
        stk_need "$name" "${reqs[@]}" "file:$S/tampered-sig-$c.json:tampered bundle ($(cat "$S/tamper.err" 2>/dev/null))" &&
            stk_refuse "$name" "$c" "neg-sig-$c" "$S/tampered-sig-$c.json" "${CA[$c]}" "${CID[$c]}" "$ISS" "$re_sig" "$jid"
        name="stack: refuse: $cn verify of the bundle with one bit of the certificate flipped"
        stk_need "$name" "${reqs[@]}" "file:$S/tampered-cert-$c.json:tampered bundle ($(cat "$S/tamper.err" 2>/dev/null))" &&
            stk_refuse "$name" "$c" "neg-cert-$c" "$S/tampered-cert-$c.json" "${CA[$c]}" "${CID[$c]}" "$ISS" "$re_cert" "$jid"
    done

    # --- 2f. a workload token (URI subject under <issuer>/workloads) ------------------------------
    local WISS="$ISS/workloads" WID="$ISS/workloads/ci-job" A_W="$S/artifact-workload.txt" B_WC="$S/workload-cosign.sigstore.json" \
        B_WP="$S/workload-py.sigstore.json" wtok=""
    printf 'sigstack workload artifact %s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$A_W"
    name="stack: scripts/dev-token.sh --workload ci-job mints iss=<issuer>/workloads, sub=<issuer>/workloads/ci-job"
    if stk_need "$name" up; then
        wtok=$(stk_dev_token --workload ci-job)
        local claims
        claims=$("$PY" "$HERE/stack_bundle.py" claims "$wtok" 2>&1)
        check "$name" "$(jq -e --arg i "$WISS" --arg s "$WID" '.iss == $i and .sub == $s and (.aud == "sigstore" or .aud == ["sigstore"])' <<<"$claims" >/dev/null 2>&1 && echo 0 || echo 1)" \
            "claims: $claims; dev-token.sh stderr: $(cat "$S/dev-token.err")"
        stk_token_file "$S/workload-token" "$wtok"
    fi
    name="stack: workload: cosign $COSIGN_VERSION sign-blob (files) with the workload token"
    if stk_need "$name" up cosign; then
        stk_cos files w-cos-sign sign-blob --yes --identity-token "$S/workload-token" \
            --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_WC" "$A_W"
        rc=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_WC" ] && echo 0 || echo 1)" "$(stk_out w-cos-sign "$rc")"
    fi
    name="stack: workload: cosign verify-blob --certificate-identity <issuer>/workloads/ci-job --certificate-oidc-issuer <issuer>/workloads"
    if stk_need "$name" up cosign "file:$B_WC:bundle from the workload cosign sign-blob case"; then
        stk_verify cosign w-cos-verify "$B_WC" "$A_W" "$WID" "$WISS"
        rc=$?
        check "$name" "$rc" "$(stk_out w-cos-verify "$rc")"
    fi
    name="stack: workload: sigstore-python --trust-config sign with the workload token"
    if stk_need "$name" up py; then
        stk_py w w-py-sign --trust-config "${STK_ENV[SIGSTACK_CLIENT_TRUST_CONFIG]}" sign --identity-token "$wtok" \
            --bundle "$B_WP" "$A_W"
        rc=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ -s "$B_WP" ] && echo 0 || echo 1)" "$(stk_out w-py-sign "$rc")"
    fi
    name="stack: workload: sigstore-python verify identity --cert-identity <issuer>/workloads/ci-job --cert-oidc-issuer <issuer>/workloads"
    if stk_need "$name" up py "file:$B_WP:bundle from the workload sigstore-python sign case"; then
        stk_verify py w-py-verify "$B_WP" "$A_W" "$WID" "$WISS"
        rc=$?
        check "$name" "$rc" "$(stk_out w-py-verify "$rc")"
    fi
    name="stack: workload: cross: sigstore-python verifies cosign's workload bundle, cosign verifies sigstore-python's"
    if stk_need "$name" up py cosign "file:$B_WC:bundle from the workload cosign case" "file:$B_WP:bundle from the workload sigstore-python case"; then
        stk_verify py w-x-py "$B_WC" "$A_W" "$WID" "$WISS"
        rc=$?
        stk_verify cosign w-x-cos "$B_WP" "$A_W" "$WID" "$WISS"
        st=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" \
            "sigstore-python: $(stk_out w-x-py "$rc" 500); cosign: $(stk_out w-x-cos "$st" 500)"
    fi
    name="stack: refuse: cosign verify of the workload bundle with the people issuer (<issuer>, not <issuer>/workloads)"
    if stk_need "$name" up cosign "file:$B_WC:bundle from the workload cosign case"; then
        stk_refuse "$name" cosign w-neg-iss "$B_WC" "$A_W" "$WID" "$ISS" 'expected issuer value "'"$ISS"'", got "'"$WISS"'"'
    fi

    # --- 3. up.sh behaviour ---------------------------------------------------------------------
    local sha_tr="" sha_root="" size0="" v2size0="" pub0="" py_idx="" py_body=""
    if [ "$STK_UP" = 1 ]; then
        sha_tr=$(stk_sha "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}")
        sha_root=$(stk_sha "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}")
        size0=$(stk_tree_size)
        v2size0=$(stk_v2_size)
        pub0=$(stk_rekor_pub)
        if [ -s "$B_PY" ]; then
            py_idx=$("$PY" "$HERE/stack_bundle.py" info "$B_PY" 2>/dev/null | jq -r '.logIndex')
            py_body=$("$PY" "$HERE/stack_bundle.py" info "$B_PY" 2>/dev/null | jq -r '.canonicalizedBody')
        fi
    fi
    # entry_still_there: the sigstore-python entry (in the Rekor v2 log: the signing config
    # offers v2 and sigstore-python prefers it) is served at its logIndex with the same body
    stk_entry_check() {
        [ -n "$py_idx" ] || { echo "no sigstore-python bundle to look up; "; return; }
        local body
        body=$("$PY" "$HERE/stack_bundle.py" v2-entry "${STK_ENV[SIGSTACK_REKOR_V2_URL]}" "$py_idx" 2>&1)
        [ "$body" = "$py_body" ] || echo "v2 entry $py_idx body '${body:0:60}...' != the sigstore-python bundle's canonicalizedBody; "
    }
    stk_same_state() { # what to compare after a restart; prints what differs
        local s1 s2 sz pb
        s1=$(stk_sha "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}")
        s2=$(stk_sha "${STK_ENV[SIGSTACK_TUF_ROOT_JSON]}")
        sz=$(stk_tree_size)
        local v2sz
        v2sz=$(stk_v2_size)
        pb=$(stk_rekor_pub)
        [ "$s1" = "$sha_tr" ] || echo "trusted_root.json sha256 $sha_tr -> $s1; "
        [ "$s2" = "$sha_root" ] || echo "1.root.json sha256 $sha_root -> $s2; "
        [[ $sz =~ ^[0-9]+$ && $size0 =~ ^[0-9]+$ ]] && [ "$sz" -ge "$size0" ] || echo "rekor treeSize $size0 -> '$sz'; "
        [[ $v2sz =~ ^[0-9]+$ && $v2size0 =~ ^[0-9]+$ ]] && [ "$v2sz" -ge "$v2size0" ] || echo "rekor v2 size $v2size0 -> '$v2sz'; "
        [ -n "$pb" ] && [ "$pb" = "$pub0" ] || echo "rekor /api/v1/log/publicKey changed (or unreachable); "
        stk_entry_check
        echo "$sz" >"$S/last-size"
    }

    # --- RFC 3161 timestamps (scripts/interop/tsa.sh) ---------------------------------------
    tsa_cases

    # --- container images against a real registry (scripts/interop/images.sh) ---------------
    images_cases

    name="stack: second scripts/up.sh reuses the state (exit 0, all 6 'already running', same trusted_root.json + 1.root.json sha256, log kept)"
    if stk_need "$name" up; then
        stk_up_main up2
        rc=$?
        bad=""
        [ "$rc" -eq 0 ] || bad+="$(stk_up_err up2 "$rc"); "
        for p in oidc-dev ctlog-server rekor-server fulcio timestamp-server tuf-root; do
            grep -q "$p already running" "$S/up2.err" || bad+="no '$p already running'; "
        done
        bad+=$(stk_same_state)
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad stderr: $(tail -c 600 "$S/up2.err")"
    fi

    name="stack: kill -9 rekor-server, scripts/up.sh brings it back (same key and log; the 5 others left running)"
    if stk_need "$name" up; then
        local rpid npid i
        rpid=$(cat "$STK_STATE/run/rekor-server.pid" 2>/dev/null)
        bad=""
        if [ -z "$rpid" ] || ! stk_alive "$rpid"; then
            bad="no live rekor-server pid in $STK_STATE/run/rekor-server.pid ('$rpid'); "
        else
            kill -9 "$rpid"
            for i in $(seq 1 100); do stk_alive "$rpid" || break; sleep 0.05; done
            stk_alive "$rpid" && bad+="rekor-server $rpid still alive 5 s after kill -9; "
            stk_healthy "${STK_ENV[SIGSTACK_REKOR_URL]}/healthz" && bad+="rekor still answers after kill -9; "
            stk_up_main up3
            rc=$?
            [ "$rc" -eq 0 ] || bad+="$(stk_up_err up3 "$rc"); "
            npid=$(cat "$STK_STATE/run/rekor-server.pid" 2>/dev/null)
            [ -n "$npid" ] && [ "$npid" != "$rpid" ] && stk_alive "$npid" || bad+="rekor-server pid file '$npid' (old $rpid) is not a new live process; "
            grep -q 'rekor-server already running' "$S/up3.err" && bad+="up.sh claims rekor-server is running; "
            for p in oidc-dev ctlog-server fulcio timestamp-server tuf-root; do
                grep -q "$p already running" "$S/up3.err" || bad+="$p was not left running; "
            done
            stk_healthy "${STK_ENV[SIGSTACK_REKOR_URL]}/healthz" || bad+="rekor /healthz does not answer; "
            bad+=$(stk_same_state)
        fi
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad stderr: $(tail -c 600 "$S/up3.err" 2>/dev/null); rekor log: $(tail -c 400 "$STK_STATE/logs/rekor-server.log" 2>/dev/null)"
    fi
    name="stack: after the rekor restart: cosign sign-blob + verify-blob (unchanged trusted root), the Rekor v2 log grows by one"
    if stk_need "$name" up cosign; then
        local sz1 sz2
        sz1=$(stk_v2_size)
        printf 'sigstack after-restart artifact %s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$S/artifact-restart.txt"
        stk_token_file "$S/cosign-token" "$(stk_dev_token "$ID_COS")"
        stk_cos files cos-sign-r sign-blob --yes --identity-token "$S/cosign-token" \
            --signing-config "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$S/restart.sigstore.json" "$S/artifact-restart.txt"
        rc=$?
        stk_verify cosign cos-verify-r "$S/restart.sigstore.json" "$S/artifact-restart.txt" "$ID_COS" "$ISS"
        st=$?
        sz2=$(stk_v2_size)
        check "$name" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && [[ $sz1 =~ ^[0-9]+$ ]] && [ "$sz2" = $((sz1 + 1)) ] && echo 0 || echo 1)" \
            "sign $(stk_out cos-sign-r "$rc" 500); verify $(stk_out cos-verify-r "$st" 500); v2 size $sz1 -> $sz2"
    fi

    name="stack: scripts/up.sh on a 2nd state dir whose rekor port is taken (python3 -m http.server): exit != 0, names the port, creates no keys"
    local p2 hp
    read -r -a p2 <<<"$(stk_ports 6)"
    if [ "$(which python3)" ]; then
        mkdir -p "$S/http-root"
        python3 -m http.server "${p2[2]}" --bind 127.0.0.1 --directory "$S/http-root" >"$S/http.log" 2>&1 &
        STK_HTTP_PID=$!
        if ! wait_healthy "http://127.0.0.1:${p2[2]}/" "$STK_HTTP_PID"; then
            fail "$name" "python3 -m http.server did not start on ${p2[2]}: $(tail -c 400 "$S/http.log")"
        else
            stk_up up-taken "$STK_STATE2" "${p2[0]}" "${p2[1]}" "${p2[2]}" "${p2[3]}" "${p2[4]}" "${p2[5]}"
            rc=$?
            bad=""
            [ "$rc" -ne 0 ] || bad+="up.sh exited 0; "
            grep -q "port ${p2[2]}" "$S/up-taken.err" || bad+="stderr does not name port ${p2[2]}; "
            grep -q "rekor" "$S/up-taken.err" || bad+="stderr does not name rekor; "
            local made
            made=$(cd "$STK_STATE2" 2>/dev/null && find . -type f ! -name build.log ! -path './logs/*' | head -10 | tr '\n' ' ')
            [ -z "$made" ] || bad+="files created in the 2nd state dir: $made; "
            for d in fulcio ctlog rekor oidc tuf tsa initialized; do
                [ ! -e "$STK_STATE2/$d" ] || bad+="$STK_STATE2/$d created; "
            done
            for i in 0 1 3 4 5; do
                stk_listening "${p2[$i]}" && bad+="port ${p2[$i]} of the 2nd stack is listening (a service was started); "
            done
            kill "$STK_HTTP_PID" 2>/dev/null
            wait "$STK_HTTP_PID" 2>/dev/null
            STK_HTTP_PID=""
            check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad up.sh: $(stk_up_err up-taken "$rc")"
            [ -z "$bad" ] && echo "stack: up.sh said: $(tail -c 300 "$S/up-taken.err" | oneline)" >&2
        fi
    else
        fail "$name" "python3 not in PATH"
    fi

    stk_down_case() { # NAME OUT: down.sh stops every service of the stack under test
        local name=$1 out=$2 pids=() pid bad="" t0 t1 st
        for f in "$STK_STATE"/run/*.pid; do [ -s "$f" ] && pids+=("$(cat "$f")"); done
        t0=$(date +%s%N)
        stk_down "$out" "$STK_STATE"
        st=$?
        t1=$(date +%s%N)
        [ "$st" -eq 0 ] || bad+="down.sh exit $st; "
        [ "${#pids[@]}" = 6 ] || bad+="${#pids[@]} pid files before down.sh (want 6); "
        for pid in "${pids[@]}"; do stk_alive "$pid" && bad+="pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-80)) still alive; "; done
        for p in "${STK_PORT[@]}"; do stk_listening "$p" && bad+="port $p still accepts connections; "; done
        [ -z "$(ls "$STK_STATE"/run/*.pid 2>/dev/null)" ] || bad+="pid files left: $(ls "$STK_STATE"/run/*.pid | tr '\n' ' '); "
        grep -q 'needed SIGKILL' "$S/$out.out" && bad+="a service ignored SIGTERM for 10 s (down.sh needed SIGKILL); "
        if [ -z "$bad" ]; then
            pass "$name (${#pids[@]} services, $(((t1 - t0) / 1000000)) ms)"
        else
            fail "$name" "$bad down.sh output: $(tail -c 600 "$S/$out.out")"
        fi
    }
    name="stack: scripts/down.sh stops everything (no pid alive, all 6 ports free, pid files removed)"
    if stk_need "$name" up; then
        stk_down_case "$name" down1
    fi

    name="stack: scripts/up.sh after down.sh resumes (exit 0, same trust root, same rekor key and log)"
    if stk_need "$name" up; then
        local size_before_resume
        size_before_resume=$(cat "$S/last-size" 2>/dev/null)
        stk_up_main up4
        rc=$?
        bad=""
        [ "$rc" -eq 0 ] || bad+="$(stk_up_err up4 "$rc"); "
        grep -q 'already running' "$S/up4.err" && bad+="up.sh found services still running after down.sh: $(grep 'already running' "$S/up4.err" | tr '\n' ' '); "
        grep -q 'first run' "$S/up4.err" && bad+="up.sh did a first run again; "
        bad+=$(stk_same_state)
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi
    name="stack: after the resume: sigstore-python --instance verifies the mock-token bundle again (TUF served again)"
    if stk_need "$name" up py "file:$B_PYM:bundle from the sigstore-python --instance sign case"; then
        stk_py inst py-verify-resume --instance "${STK_ENV[SIGSTACK_TUF_URL]}" verify identity --bundle "$B_PYM" \
            --cert-identity "$STK_IDENTITY_MOCK" --cert-oidc-issuer "$STK_MOCK_URL" "$A_PYM"
        rc=$?
        check "$name" "$rc" "$(stk_out py-verify-resume "$rc")"
    fi

    # --- 4. stop ---------------------------------------------------------------------------------
    name="stack: scripts/down.sh at the end of the section (no pid alive, ports free)"
    if stk_need "$name" up; then
        stk_down_case "$name" down2
    fi
}

STK_T0=$(date +%s%N)
stack_section
stack_cleanup
echo "stack section wall time: $((($(date +%s%N) - STK_T0) / 1000000)) ms" >&2
