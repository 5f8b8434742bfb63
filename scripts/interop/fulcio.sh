# Fulcio + CT log section of scripts/interop.sh (sourced: uses its pass/fail/check,
# $WORK, $CACHE, $CURL, $PY and the running Rekor at $URL with key $WORK/log-pub.pem).
#
# Peers: sigstore-python (already installed by interop.sh) signs with a certificate
# from our Fulcio, checks its embedded SCT from our CT log at signing time, and
# verifies the bundle; oidc-provider-mock (PyPI, pinned) is the OIDC issuer;
# openssl verifies the chain. The publicKeyRequest form (cosign, sigstore-js) and the
# legacy v1 API are driven with curl + openssl.
# sigstore-js (npm, pinned, installed under $CACHE) signs through our Fulcio (publicKeyRequest,
# token in the body) and our Rekor, and verifies over our trusted root (sigstore_js.js); the
# bundles of both clients are cross-verified. certspotter (Debian package, installed by
# scripts/deps.sh) monitors our CT log: STH signatures, root recomputed from every entry,
# audit proof, precertificate entries parsed.

OIDC_MOCK_VERSION=0.3.4
OIDC_VENV="$CACHE/venv-oidc-mock-$OIDC_MOCK_VERSION"
# sigstore-js: the `sigstore` package and the @sigstore packages sigstore_js.js uses, all exact
# (sigstore 5.0.1 is the newest 5.x; the others are what it resolved to when pinned).
SIGSTORE_JS_VERSION=5.0.1
# tuf-js: what @sigstore/tuf 5.0.1 resolved (^6.0.2); tuf.sh drives it directly (tuf_js.js).
SIGSTORE_JS_PKGS=("sigstore@$SIGSTORE_JS_VERSION" @sigstore/sign@5.1.0 @sigstore/verify@4.1.3
    @sigstore/bundle@5.0.1 @sigstore/core@4.0.1 @sigstore/protobuf-specs@0.5.2 @sigstore/tuf@5.0.1 tuf-js@6.0.2)
SIGSTORE_JS_DIR="$CACHE/npm-sigstore-$SIGSTORE_JS_VERSION"
CERTSPOTTER_DEB_VERSION=0.16.0-1 # Debian bookworm's; installed by scripts/deps.sh (same pin)
F="$WORK/fulcio"
mkdir -p "$F"
FULCIO_PID=""
CTLOG_PID=""
OIDC_PID=""
CERTSPOTTER_PID=""

fulcio_cleanup() {
    for p in $CERTSPOTTER_PID $FULCIO_PID $CTLOG_PID $OIDC_PID; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

install_oidc_mock() {
    local log="$CACHE/logs/oidc-mock-install.log"
    if [ -x "$OIDC_VENV/bin/oidc-provider-mock" ] &&
        "$OIDC_VENV/bin/pip" show oidc-provider-mock 2>/dev/null | grep -qx "Version: $OIDC_MOCK_VERSION"; then
        pass "install oidc-provider-mock $OIDC_MOCK_VERSION venv (cached)"
        return
    fi
    rm -rf "$OIDC_VENV"
    if { python3 -m venv "$OIDC_VENV" &&
        "$OIDC_VENV/bin/pip" install --disable-pip-version-check -q "oidc-provider-mock==$OIDC_MOCK_VERSION"; } >"$log" 2>&1; then
        pass "install oidc-provider-mock $OIDC_MOCK_VERSION venv"
    else
        fail "install oidc-provider-mock $OIDC_MOCK_VERSION venv" "$(tail -5 "$log")"
    fi
}

# Every pinned package at its exact version in $SIGSTORE_JS_DIR/node_modules?
sigstore_js_present() {
    [ -d "$SIGSTORE_JS_DIR/node_modules" ] || return 1
    node -e '
        const [dir, ...specs] = process.argv.slice(1);
        for (const s of specs) {
            const at = s.lastIndexOf("@"), name = s.slice(0, at), want = s.slice(at + 1);
            const got = require(dir + "/node_modules/" + name + "/package.json").version;
            if (got !== want) { console.error(name + " " + got + " != " + want); process.exit(1); }
        }' "$SIGSTORE_JS_DIR" "${SIGSTORE_JS_PKGS[@]}" 2>/dev/null
}

install_sigstore_js() {
    local log="$CACHE/logs/sigstore-js-install.log"
    if sigstore_js_present; then
        pass "install sigstore-js $SIGSTORE_JS_VERSION (npm, cached)"
        return
    fi
    rm -rf "$SIGSTORE_JS_DIR"
    if ! command -v npm >/dev/null 2>&1; then
        fail "install sigstore-js $SIGSTORE_JS_VERSION (npm)" "npm not found in PATH"
        return
    fi
    mkdir -p "$SIGSTORE_JS_DIR"
    if { timeout 600 npm install --prefix "$SIGSTORE_JS_DIR" --save-exact --no-audit --no-fund \
        --no-update-notifier "${SIGSTORE_JS_PKGS[@]}" && sigstore_js_present; } >"$log" 2>&1; then
        pass "install sigstore-js $SIGSTORE_JS_VERSION (npm, node $(node --version))"
    else
        fail "install sigstore-js $SIGSTORE_JS_VERSION (npm)" "$(grep -v '^npm warn' "$log" | tail -5)"
    fi
}

# sjs sign|verify ARGS...: sigstore_js.js with the pinned packages; output in $F/sjs.out
sjs() { NODE_PATH="$SIGSTORE_JS_DIR/node_modules" timeout 120 node "$HERE/sigstore_js.js" "$@" >"$F/sjs.out" 2>&1; }

wait_healthy() { # URL PID  (up to 60 s: a dev build decrypting a scrypt-protected key is slow)
    local i
    for i in $(seq 1 600); do
        kill -0 "$2" 2>/dev/null || return 1
        "${CURL[@]}" -f --max-time 2 -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# mint_token SUB [CLIENT_ID]: authorization-code flow against the mock, no browser.
mint_token() {
    local sub=$1 client=${2:-sigstore} redir=http://127.0.0.1:9/callback loc code
    loc=$("${CURL[@]}" -o /dev/null -w '%{redirect_url}' -X POST \
        "$OIDC_URL/oauth2/authorize?client_id=$client&response_type=code&scope=openid%20email&redirect_uri=$redir&state=s&nonce=n" \
        --data-urlencode "sub=$sub") || return 1
    code=$(python3 -c 'import sys,urllib.parse as u;print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc") || return 1
    "${CURL[@]}" -X POST "$OIDC_URL/oauth2/token" -d grant_type=authorization_code -d "code=$code" \
        -d "redirect_uri=$redir" -d "client_id=$client" -d client_secret=x |
        python3 -c 'import sys,json;print(json.load(sys.stdin)["id_token"])'
}

# cs_loglist PUB.pem OUT.json: a v3 log list (certspotter takes a file path or an https:// URL)
# holding our CT log only, with the given key.
cs_loglist() {
    local spki
    spki=$(openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | base64 -w0)
    jq -n --arg key "$spki" --arg id "$(printf '%s' "$spki" | base64 -d | openssl dgst -sha256 -binary | base64 -w0)" \
        --arg url "$CTLOG_URL/" '{version: "1", log_list_timestamp: "2026-01-01T00:00:00Z",
          operators: [{name: "sigstack-interop", email: ["ct@example.com"], logs: [{description: "sigstack interop ctlog",
            log_id: $id, key: $key, url: $url, mmd: 86400, state: {usable: {timestamp: "2026-01-01T00:00:00Z"}}}]}]}' >"$2"
}

# Control for the passes above: with a foreign key in the log list, certspotter must report
# our STH signature as invalid (so a PASS above means the signature was checked).
certspotter_foreign_key() {
    local name="certspotter refuses our STH under a foreign log key" pid
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout -out "$F/cs-foreign.pub" 2>/dev/null
    cs_loglist "$F/cs-foreign.pub" "$F/cs-loglist-foreign.json"
    CERTSPOTTER_CONFIG_DIR="$F/cs-config" certspotter -logs "$F/cs-loglist-foreign.json" -state_dir "$F/cs-state-foreign" \
        -watchlist "$F/cs-watchlist" -stdout -verbose -no_save >"$F/cs-foreign.out" 2>"$F/cs-foreign.err" &
    pid=$!
    CERTSPOTTER_PID=$pid
    for _ in $(seq 1 300); do
        grep -q 'error fetching latest STH\|saving state in defer' "$F/cs-foreign.err" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    CERTSPOTTER_PID=""
    cat "$F/cs-foreign.out" "$F/cs-foreign.err" >>"$F/certspotter.log"
    check "$name" "$(grep -q 'error fetching latest STH.*invalid signature' "$F/cs-foreign.err" && echo 0 || echo 1)" \
        "stderr: $(tail -c 600 "$F/cs-foreign.err")"
}

# certspotter NAME STATE-DIR MODE [FLAGS...]: one monitoring pass of certspotter over our CT log
# (MODE download: fetch entries from the saved position or 0 and check the recomputed root
# against the signed STH; MODE end: -start_at_end on a new state dir, i.e. the tree rebuilt from
# the last entry and its audit proof must match the STH). certspotter is a daemon: it is
# stopped once the pass has saved its state. PASS when it logged no error, notified nothing
# (a malformed entry is a notification), saved no malformed entry and its verified STH is the
# log's current size.
certspotter_pass() {
    local name=$1 state=$2 mode=$3 want pid line bad=""
    shift 3
    want=$(ct_size)
    : >"$F/cs.out"
    : >"$F/cs.err"
    CERTSPOTTER_CONFIG_DIR="$F/cs-config" certspotter -logs "$F/cs-loglist.json" -state_dir "$state" \
        -watchlist "$F/cs-watchlist" -stdout -verbose -no_save "$@" >"$F/cs.out" 2>"$F/cs.err" &
    pid=$!
    CERTSPOTTER_PID=$pid
    for _ in $(seq 1 600); do
        grep -q 'saving state in defer' "$F/cs.err" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.3 # let the deferred state write finish
    cp "$F/cs.err" "$F/cs.err.pass" # before the stop: a stopped task logs "stopped with error context canceled"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    CERTSPOTTER_PID=""
    cat "$F/cs.out" "$F/cs.err" >>"$F/certspotter.log"
    # Anything but the -verbose progress lines is an error report (certspotter's recordError).
    while IFS= read -r line; do
        case "${line#????/??/?? ??:??:?? }" in
        "fetched "*" logs from "* | "starting task for log "* | "brand new log "* | \
            "downloading entries from "* | "finished downloading entries from "* | "saving state in defer for "*) ;;
        *) bad+="$line; " ;;
        esac
    done <"$F/cs.err.pass"
    local got
    got=$(jq -r '.verified_sth.tree_size // empty' "$state"/logs/*/state.json 2>/dev/null)
    if ! grep -q 'saving state in defer' "$F/cs.err.pass"; then
        bad+="no monitoring pass completed within 60 s; "
    fi
    if [ "$mode" = download ] && ! grep -q 'finished downloading entries from' "$F/cs.err.pass"; then
        bad+="no 'finished downloading entries'; "
    fi
    if [ "$mode" = end ] && ! grep -q "brand new log .*(starting from $want)" "$F/cs.err.pass"; then
        bad+="no 'brand new log ... (starting from $want)'; "
    fi
    [ -s "$F/cs.out" ] && bad+="notifications: $(head -c 600 "$F/cs.out"); "
    [ -n "$(ls -A "$state"/logs/*/malformed_entries 2>/dev/null)" ] &&
        bad+="malformed entries saved: $(find "$state"/logs/*/malformed_entries -type f | head -5 | tr '\n' ' '); "
    [ -n "$want" ] && [ "$got" = "$want" ] || bad+="verified STH size '$got', log size '$want'; "
    check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad stderr: $(tail -c 600 "$F/cs.err.pass")"
}

ct_size() { "${CURL[@]}" "$CTLOG_URL/ct/v1/get-sth" 2>/dev/null | jq -r '.tree_size // empty'; }

fulcio_section() {
    install_oidc_mock
    install_sigstore_js
    # Built by interop.sh's build step together with rekor-server.
    local FULCIO_BIN="$BIN_DIR/fulcio" CTLOG_BIN="$BIN_DIR/ctlog-server"
    if [ -n "$BIN_DIR" ] && [ -x "$FULCIO_BIN" ] && [ -x "$CTLOG_BIN" ]; then
        pass "fulcio and ctlog-server binaries present"
    else
        fail "fulcio and ctlog-server binaries present" "not found in '$BIN_DIR' (see the build case)"
        return
    fi

    # --- CA ceremony ---------------------------------------------------------------------
    if FULCIO_CA_PASSPHRASE=interop-pass "$FULCIO_BIN" ca create --out-dir "$F/ca" \
        --organization sigstack-interop --common-name interop >"$F/ca-create.out" 2>&1 &&
        [ "$(stat -c %a "$F/ca/intermediate.key.pem")" = 600 ] &&
        [ "$(stat -c %a "$F/ca/root.key.pem")" = 600 ] &&
        grep -q "ENCRYPTED PRIVATE KEY" "$F/ca/intermediate.key.pem" &&
        grep -q "ENCRYPTED PRIVATE KEY" "$F/ca/root.key.pem"; then
        pass "fulcio ca create (root + intermediate, keys encrypted, 0600)"
    else
        fail "fulcio ca create" "$(cat "$F/ca-create.out")"
        return
    fi
    if openssl verify -x509_strict -CAfile "$F/ca/root.crt.pem" "$F/ca/intermediate.crt.pem" >"$F/ov" 2>&1; then
        pass "openssl verify -x509_strict: intermediate chains to root"
    else
        fail "openssl verify intermediate" "$(cat "$F/ov")"
    fi

    # --- OIDC mock, CT log, Fulcio ------------------------------------------------------
    local oport cport fport
    oport=$(free_port)
    OIDC_URL="http://127.0.0.1:$oport"
    "$OIDC_VENV/bin/oidc-provider-mock" --host 127.0.0.1 --port "$oport" \
        --user-claims '{"sub":"alice@example.com","email":"alice@example.com","email_verified":true}' \
        >"$F/oidc.log" 2>&1 &
    OIDC_PID=$!
    if wait_healthy "$OIDC_URL/.well-known/openid-configuration" "$OIDC_PID"; then
        pass "oidc-provider-mock up ($OIDC_URL)"
    else
        fail "oidc-provider-mock up" "$(tail -c 600 "$F/oidc.log")"
        return
    fi

    cport=$(free_port)
    CTLOG_URL="http://127.0.0.1:$cport"
    "$CTLOG_BIN" --listen "127.0.0.1:$cport" --data-dir "$F/ctlog" \
        --roots-pem-file "$F/ca/root.crt.pem" >"$F/ctlog.log" 2>&1 &
    CTLOG_PID=$!
    if wait_healthy "$CTLOG_URL/healthz" "$CTLOG_PID" &&
        openssl pkey -in "$F/ctlog/ctlog-key.pem" -pubout -out "$F/ctlog-pub.pem" 2>"$F/pk.err"; then
        pass "ctlog-server up ($CTLOG_URL)"
    else
        fail "ctlog-server up" "$(tail -c 600 "$F/ctlog.log") $(cat "$F/pk.err" 2>/dev/null)"
        return
    fi

    cat >"$F/config.json" <<EOF
{"OIDCIssuers":{"$OIDC_URL":{"IssuerURL":"$OIDC_URL","ClientID":"sigstore","Type":"email"}}}
EOF
    fport=$(free_port)
    FULCIO_URL="http://127.0.0.1:$fport"
    FULCIO_SERVE_FILECA_KEY_PASSWD=interop-pass "$FULCIO_BIN" serve --host 127.0.0.1 --port "$fport" \
        --config-path "$F/config.json" --ca fileca --fileca-cert "$F/ca/chain.pem" \
        --fileca-key "$F/ca/intermediate.key.pem" --ct-log-url "$CTLOG_URL" \
        --ct-log-public-key-path "$F/ctlog-pub.pem" >"$F/fulcio.log" 2>&1 &
    FULCIO_PID=$!
    if wait_healthy "$FULCIO_URL/healthz" "$FULCIO_PID"; then
        pass "fulcio serve --ca fileca (encrypted key) up ($FULCIO_URL)"
    else
        fail "fulcio serve up" "$(tail -c 800 "$F/fulcio.log")"
        return
    fi

    "${CURL[@]}" -f "$FULCIO_URL/api/v1/rootCert" -o "$F/rootCert.pem"
    check "GET /api/v1/rootCert = intermediate + root" \
        "$([ "$(grep -c 'BEGIN CERTIFICATE' "$F/rootCert.pem")" = 2 ] && echo 0 || echo 1)" "$(head -c 300 "$F/rootCert.pem")"
    "${CURL[@]}" -f "$FULCIO_URL/api/v2/trustBundle" -o "$F/tb.json"
    check "GET /api/v2/trustBundle (one chain of 2)" "$(jq -e '.chains | length == 1 and (.[0].certificates | length == 2)' "$F/tb.json" >/dev/null && echo 0 || echo 1)" "$(head -c 300 "$F/tb.json")"
    "${CURL[@]}" -f "$FULCIO_URL/api/v2/configuration" -o "$F/conf.json"
    check "GET /api/v2/configuration lists the issuer" "$(jq -e --arg u "$OIDC_URL" '.issuers[0].issuerUrl == $u and .issuers[0].challengeClaim == "email"' "$F/conf.json" >/dev/null && echo 0 || echo 1)" "$(cat "$F/conf.json")"

    if ! "$PY" "$HERE/trust_config.py" "$F/trust_config.json" --fulcio-url "$FULCIO_URL" \
        --fulcio-chain "$F/rootCert.pem" --rekor-url "$URL" --rekor-pub "$WORK/log-pub.pem" \
        --ctlog-url "$CTLOG_URL" --ctlog-pub "$F/ctlog-pub.pem" --oidc-url "$OIDC_URL" 2>"$F/tc.err"; then
        fail "build client trust config" "$(cat "$F/tc.err")"
        return
    fi

    # --- sigstore-python: CSR form, SCT checked at signing --------------------------------
    local token
    token=$(mint_token alice@example.com)
    if [ -z "$token" ]; then
        fail "mint token from oidc-provider-mock" "empty token; $(tail -c 400 "$F/oidc.log")"
        return
    fi
    echo "interop artifact $(date +%s%N)" >"$F/artifact.txt"
    local before after
    before=$(ct_size)
    if "$VENV/bin/sigstore" --trust-config "$F/trust_config.json" sign --identity-token "$token" \
        --bundle "$F/artifact.sigstore.json" "$F/artifact.txt" >"$F/sign.out" 2>&1; then
        pass "sigstore-python sign: certificate from our Fulcio (CSR), SCT from our CT log accepted, entry in our Rekor"
    else
        fail "sigstore-python sign" "$(tail -c 1200 "$F/sign.out"); fulcio log: $(tail -c 600 "$F/fulcio.log")"
    fi
    after=$(ct_size)
    check "CT log grew by one precertificate" "$([ -n "$before" ] && [ "$after" = $((before + 1)) ] && echo 0 || echo 1)" "before $before after $after"
    if "$VENV/bin/sigstore" --trust-config "$F/trust_config.json" verify identity \
        --bundle "$F/artifact.sigstore.json" --cert-identity alice@example.com \
        --cert-oidc-issuer "$OIDC_URL" "$F/artifact.txt" >"$F/verify.out" 2>&1; then
        pass "sigstore-python verify identity (pyca strict chain, SCT, identity, issuer extension)"
    else
        fail "sigstore-python verify identity" "$(tail -c 1200 "$F/verify.out")"
    fi
    if "$VENV/bin/sigstore" --trust-config "$F/trust_config.json" verify identity \
        --bundle "$F/artifact.sigstore.json" --cert-identity mallory@example.com \
        --cert-oidc-issuer "$OIDC_URL" "$F/artifact.txt" >"$F/verify-bad.out" 2>&1; then
        fail "sigstore-python verify identity refuses the wrong identity" "verify succeeded for mallory@example.com"
    else
        # Refused for the identity, not for a crash or a bad trust config.
        check "sigstore-python verify identity refuses the wrong identity" \
            "$(grep -q "SANs do not match" "$F/verify-bad.out" && grep -q "actual SANs" "$F/verify-bad.out" && echo 0 || echo 1)" \
            "refused, but not for the SAN: $(tail -c 600 "$F/verify-bad.out")"
    fi
    python3 - "$F/artifact.sigstore.json" "$F/leaf.pem" <<'PYEOF' 2>"$F/leaf.err"
import base64, json, sys
b = json.load(open(sys.argv[1]))
vm = b["verificationMaterial"]
c = vm.get("certificate") or vm["x509CertificateChain"]["certificates"][0]
d = base64.b64encode(base64.b64decode(c["rawBytes"])).decode()
open(sys.argv[2], "w").write("-----BEGIN CERTIFICATE-----\n" + "\n".join(d[i:i+64] for i in range(0, len(d), 64)) + "\n-----END CERTIFICATE-----\n")
PYEOF
    # (OpenSSL 3.0 has no codesign purpose; check_cert.py checks the EKU.)
    if openssl verify -x509_strict -CAfile "$F/ca/root.crt.pem" -untrusted "$F/ca/intermediate.crt.pem" \
        "$F/leaf.pem" >"$F/ov2" 2>&1; then
        pass "openssl verify -x509_strict: leaf -> intermediate -> root"
    else
        fail "openssl verify leaf chain" "$(cat "$F/ov2" "$F/leaf.err" 2>/dev/null)"
    fi
    if "$PY" "$HERE/check_cert.py" "$F/leaf.pem" "$F/ctlog-pub.pem" "$F/ca/intermediate.crt.pem" \
        alice@example.com "$OIDC_URL" >"$F/cc.out" 2>&1; then
        pass "leaf certificate template (empty subject, critical SAN, KU, EKU, AKI, 10 min, .1/.8/.24, one valid SCT)"
    else
        fail "leaf certificate template" "$(cat "$F/cc.out")"
    fi

    # --- publicKeyRequest form (cosign / sigstore-js) and the legacy v1 API ----------------
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$F/k.pem" 2>/dev/null
    openssl pkey -in "$F/k.pem" -pubout -out "$F/k.pub" 2>/dev/null
    printf 'alice@example.com' | openssl dgst -sha256 -sign "$F/k.pem" -out "$F/pop.sig"
    token=$(mint_token alice@example.com)
    jq -n --rawfile pk "$F/k.pub" --arg pop "$(base64 -w0 "$F/pop.sig")" --arg t "$token" \
        '{credentials:{oidcIdentityToken:$t}, publicKeyRequest:{publicKey:{algorithm:"ECDSA", content:$pk}, proofOfPossession:$pop}}' >"$F/req.json"
    local st
    st=$("${CURL[@]}" -o "$F/resp.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data @"$F/req.json" "$FULCIO_URL/api/v2/signingCert")
    check "POST /api/v2/signingCert publicKeyRequest + token in body (sigstore-js form) -> 200, chain of 3" \
        "$([ "$st" = 200 ] && jq -e '.signedCertificateEmbeddedSct.chain.certificates | length == 3' "$F/resp.json" >/dev/null && echo 0 || echo 1)" \
        "HTTP $st: $(head -c 400 "$F/resp.json")"
    jq '{publicKeyRequest}' "$F/req.json" >"$F/req-hdr.json"
    token=$(mint_token alice@example.com)
    st=$("${CURL[@]}" -o "$F/resp2.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $token" --data @"$F/req-hdr.json" "$FULCIO_URL/api/v2/signingCert")
    check "POST /api/v2/signingCert with Authorization: Bearer (cosign form) -> 200" "$([ "$st" = 200 ] && echo 0 || echo 1)" "HTTP $st: $(head -c 400 "$F/resp2.json")"
    token=$(mint_token alice@example.com)
    jq -n --arg pk "$(base64 -w0 "$F/k.pub")" --arg pop "$(base64 -w0 "$F/pop.sig")" \
        '{publicKey:{algorithm:"ecdsa", content:$pk}, signedEmailAddress:$pop}' >"$F/v1.json"
    st=$("${CURL[@]}" -o "$F/v1.pem" -D "$F/v1.h" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $token" --data @"$F/v1.json" "$FULCIO_URL/api/v1/signingCert")
    check "legacy POST /api/v1/signingCert -> 201 PEM chain" \
        "$([ "$st" = 201 ] && [ "$(grep -c 'BEGIN CERTIFICATE' "$F/v1.pem")" = 3 ] && grep -qi 'application/pem-certificate-chain' "$F/v1.h" && echo 0 || echo 1)" \
        "HTTP $st: $(head -c 300 "$F/v1.pem")"

    # --- certspotter: a CT monitor over what sigstore-python and curl logged ------------------
    local cs_ok=0 cs_ver
    cs_ver=$(dpkg-query -W -f='${Version}' certspotter 2>/dev/null)
    if ! command -v certspotter >/dev/null 2>&1; then
        fail "certspotter $CERTSPOTTER_DEB_VERSION installed (Debian)" \
            "certspotter not in PATH (dpkg: '${cs_ver:-not installed}'); scripts/deps.sh installs it$(
                [ -s "$CACHE/logs/certspotter-install.log" ] && printf '; apt: %s' "$(tail -3 "$CACHE/logs/certspotter-install.log")")"
    elif [ "$cs_ver" != "$CERTSPOTTER_DEB_VERSION" ]; then
        fail "certspotter $CERTSPOTTER_DEB_VERSION installed (Debian)" "installed version is '$cs_ver' (run scripts/deps.sh)"
    else
        pass "certspotter $CERTSPOTTER_DEB_VERSION installed (Debian; $(certspotter -version 2>&1))"
        cs_ok=1
    fi
    cs_loglist "$F/ctlog-pub.pem" "$F/cs-loglist.json"
    mkdir -p "$F/cs-config"
    echo ".example.org" >"$F/cs-watchlist" # nothing we issue has a DNS name: any notification is an error
    local cs_need="certspotter not installed (see the certspotter install case)"
    if [ "$cs_ok" = 1 ]; then
        certspotter_pass "certspotter monitors our CT log from entry 0 (STH signature, every precert entry parsed, root recomputed = STH root)" \
            "$F/cs-state" download
        certspotter_foreign_key
    else
        fail "certspotter monitors our CT log from entry 0" "$cs_need"
        fail "certspotter refuses our STH under a foreign log key" "$cs_need"
    fi

    # --- sigstore-js: publicKeyRequest with the token in the body, Rekor v1, our trusted root ---
    local js_need="sigstore-js $SIGSTORE_JS_VERSION not installed (see its install case)" js_ok=0
    sigstore_js_present && js_ok=1
    token=$(mint_token alice@example.com)
    printf '%s' "$token" >"$F/js-token"
    echo "interop sigstore-js artifact $(date +%s%N)" >"$F/artifact-js.txt"
    if [ "$js_ok" = 1 ]; then
        before=$(ct_size)
        if sjs sign --fulcio "$FULCIO_URL" --rekor "$URL" --token-file "$F/js-token" \
            --artifact "$F/artifact-js.txt" --bundle "$F/artifact-js.sigstore.json"; then
            pass "sigstore-js sign: certificate from our Fulcio (publicKeyRequest, token in body), hashedrekord in our Rekor ($(tail -1 "$F/sjs.out"))"
        else
            fail "sigstore-js sign" "$(tail -c 1200 "$F/sjs.out"); fulcio log: $(tail -c 600 "$F/fulcio.log")"
        fi
        after=$(ct_size)
        check "CT log grew by one precertificate (sigstore-js)" "$([ -n "$before" ] && [ "$after" = $((before + 1)) ] && echo 0 || echo 1)" "before $before after $after"
        if sjs verify --trust-config "$F/trust_config.json" --bundle "$F/artifact-js.sigstore.json" \
            --artifact "$F/artifact-js.txt" --identity alice@example.com --issuer "$OIDC_URL"; then
            pass "sigstore-js verify its bundle over our trusted root (chain, SCT, SET, inclusion proof + checkpoint, identity, issuer)"
        else
            fail "sigstore-js verify its bundle over our trusted root" "$(tail -c 1200 "$F/sjs.out")"
        fi
        # Exit 2 = refused by the identity policy; anything else would not prove the policy works.
        sjs verify --trust-config "$F/trust_config.json" --bundle "$F/artifact-js.sigstore.json" \
            --artifact "$F/artifact-js.txt" --identity mallory@example.com --issuer "$OIDC_URL"
        st=$?
        check "sigstore-js verify refuses the wrong identity (PolicyError)" "$([ "$st" = 2 ] && echo 0 || echo 1)" \
            "exit $st: $(tail -c 800 "$F/sjs.out")"
        if sjs verify --trust-config "$F/trust_config.json" --bundle "$F/artifact.sigstore.json" \
            --artifact "$F/artifact.txt" --identity alice@example.com --issuer "$OIDC_URL"; then
            pass "cross: sigstore-js verifies the sigstore-python bundle"
        else
            fail "cross: sigstore-js verifies the sigstore-python bundle" "$(tail -c 1200 "$F/sjs.out")"
        fi
    else
        local n
        for n in "sigstore-js sign" "CT log grew by one precertificate (sigstore-js)" "sigstore-js verify its bundle over our trusted root" \
            "sigstore-js verify refuses the wrong identity (PolicyError)" "cross: sigstore-js verifies the sigstore-python bundle"; do
            fail "$n" "$js_need"
        done
    fi
    if [ -s "$F/artifact-js.sigstore.json" ] &&
        "$VENV/bin/sigstore" --trust-config "$F/trust_config.json" verify identity \
            --bundle "$F/artifact-js.sigstore.json" --cert-identity alice@example.com \
            --cert-oidc-issuer "$OIDC_URL" "$F/artifact-js.txt" >"$F/verify-js.out" 2>&1; then
        pass "cross: sigstore-python verifies the sigstore-js bundle"
    else
        fail "cross: sigstore-python verifies the sigstore-js bundle" \
            "$([ -s "$F/artifact-js.sigstore.json" ] && tail -c 1200 "$F/verify-js.out" || echo "no sigstore-js bundle (see sigstore-js sign)")"
    fi

    # --- refusals: nothing reaches the CT log ------------------------------------------------
    before=$(ct_size)
    fneg() { # NAME WANT-STATUS MESSAGE-SUBSTRING CURL-ARGS...
        local name=$1 want=$2 msg=$3
        shift 3
        st=$("${CURL[@]}" -o "$F/neg.json" -w '%{http_code}' -H 'Content-Type: application/json' "$@" "$FULCIO_URL/api/v2/signingCert")
        check "$name -> $want" "$([ "$st" = "$want" ] && jq -e --arg m "$msg" '(.message | contains($m)) and (.code | type == "number")' "$F/neg.json" >/dev/null && echo 0 || echo 1)" \
            "HTTP $st: $(head -c 300 "$F/neg.json")"
    }
    fneg "garbage token" 400 "identity token" -H "Authorization: Bearer not.a.jwt" --data @"$F/req-hdr.json"
    local other
    other=$(mint_token alice@example.com other-client)
    # The case only means something if the mock really minted a token for that audience.
    if [ "$(python3 -c 'import sys,json,base64; p=sys.argv[1].split(".")[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["aud"]))' "$other" 2>/dev/null)" != '["other-client"]' ]; then
        fail "token for another audience (minted)" "the mock did not mint a token with aud [\"other-client\"]: '${other:0:40}...'"
    fi
    fneg "token for another audience" 400 "identity token" -H "Authorization: Bearer $other" --data @"$F/req-hdr.json"
    token=$(mint_token alice@example.com)
    printf 'bob@example.com' | openssl dgst -sha256 -sign "$F/k.pem" -out "$F/badpop.sig"
    jq --arg pop "$(base64 -w0 "$F/badpop.sig")" '.publicKeyRequest.proofOfPossession = $pop' "$F/req-hdr.json" >"$F/badpop.json"
    fneg "proof of possession over the wrong value" 400 "could not be verified" -H "Authorization: Bearer $token" --data @"$F/badpop.json"
    token=$(mint_token alice@example.com)
    fneg "garbage CSR" 400 "could not be parsed" -H "Authorization: Bearer $token" --data '{"certificateSigningRequest":"bm90IGEgY3Ny"}'
    after=$(ct_size)
    check "refused requests logged nothing in the CT log" "$([ -n "$before" ] && [ "$before" = "$after" ] && echo 0 || echo 1)" "before $before after $after"

    # --- certspotter again: resume (new entries appended to the verified tree), then a new
    #     state dir with -start_at_end (tree rebuilt from an audit proof) -------------------------
    if [ "$cs_ok" = 1 ]; then
        local cs_prev cs_now
        cs_prev=$(jq -r '.verified_sth.tree_size // empty' "$F"/cs-state/logs/*/state.json 2>/dev/null)
        cs_now=$(ct_size)
        check "certspotter resume has new entries to verify (log $cs_now > verified $cs_prev)" \
            "$([[ $cs_prev =~ ^[0-9]+$ && $cs_now =~ ^[0-9]+$ ]] && [ "$cs_now" -gt "$cs_prev" ] && echo 0 || echo 1)" \
            "nothing was logged since certspotter's first pass"
        certspotter_pass "certspotter resumes: entries since its last pass extend the verified tree to the new STH" \
            "$F/cs-state" download
        certspotter_pass "certspotter -start_at_end: last entry + get-proof-by-hash rebuild the STH root" \
            "$F/cs-state-end" end -start_at_end
    else
        fail "certspotter resumes" "$cs_need"
        fail "certspotter -start_at_end" "$cs_need"
    fi

    # --- CT log down: no certificate -----------------------------------------------------------
    kill "$CTLOG_PID" 2>/dev/null
    wait "$CTLOG_PID" 2>/dev/null
    CTLOG_PID=""
    token=$(mint_token alice@example.com)
    fneg "CT log unreachable" 500 "Error entering certificate in CTL" -H "Authorization: Bearer $token" --data @"$F/req-hdr.json"
}

# The Fulcio, CT log and OIDC mock stay up for the TUF section (tuf.sh); interop.sh stops
# them after it (and on exit).
fulcio_section
