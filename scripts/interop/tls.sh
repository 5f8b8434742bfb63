# HTTPS section of scripts/interop.sh (sourced; uses $BIN_DIR, $REKOR_CLI, $PY, $HERE,
# $TUF_D (the TUF workspace of tuf.sh), $WORK, free_port, wait_healthy, pass/fail/check).
# Our services serve HTTPS with a configured certificate (rustls): upstream clients that
# trust the issuing CA talk to them, clients that do not are refused by their own TLS, and
# plain HTTP on a non-loopback address is refused at start-up.

tls_section() {
    local d="$WORK/tls" port url pid=""
    mkdir -p "$d"
    # A private CA and a server certificate for 127.0.0.1 / localhost.
    if ! { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=sigstack interop CA" -keyout "$d/ca.key" -out "$d/ca.pem" &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$d/tls.key" -out "$d/tls.csr" &&
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext" &&
        openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -extfile "$d/ext" -out "$d/tls.pem"; } >"$d/openssl.log" 2>&1; then
        fail "TLS: make a CA and a server certificate" "$(tail -5 "$d/openssl.log")"
        return
    fi

    # --- rekor-server over HTTPS, rekor-cli (Go) trusting the CA via SSL_CERT_FILE ---------
    port=$(free_port)
    url="https://127.0.0.1:$port"
    "$BIN_DIR/rekor-server" --listen "127.0.0.1:$port" --data-dir "$d/rekor" --base-url "$url" \
        --tls-cert "$d/tls.pem" --tls-key "$d/tls.key" >"$d/rekor.log" 2>&1 &
    pid=$!
    if wait_healthy_tls "$url/healthz" "$pid" "$d/ca.pem"; then
        pass "rekor-server serves HTTPS with the configured certificate ($url)"
    else
        fail "rekor-server over HTTPS" "$(tail -c 600 "$d/rekor.log")"
        kill "$pid" 2>/dev/null
        return
    fi
    if [ -x "$REKOR_CLI" ]; then
        SSL_CERT_FILE="$d/ca.pem" timeout 60 "$REKOR_CLI" loginfo --rekor_server "$url" --format json \
            >"$d/loginfo.json" 2>"$d/loginfo.err"
        check "rekor-cli loginfo over HTTPS (trusting our CA)" "$?" "$(cat "$d/loginfo.err")"
        if SSL_CERT_FILE=/dev/null timeout 60 "$REKOR_CLI" loginfo --rekor_server "$url" \
            >/dev/null 2>"$d/untrusted.err"; then
            fail "rekor-cli refuses our certificate without the CA" "it connected"
        elif grep -qi "certificate" "$d/untrusted.err"; then
            pass "rekor-cli refuses the server certificate when it does not trust the CA"
        else
            fail "rekor-cli refuses our certificate without the CA" "failed for another reason: $(head -c 400 "$d/untrusted.err")"
        fi
    else
        fail "rekor-cli over HTTPS" "rekor-cli not installed (see its install case)"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null

    # --- plain HTTP off loopback is refused; --insecure-http allows it -----------------------
    port=$(free_port)
    if timeout 20 "$BIN_DIR/rekor-server" --listen "0.0.0.0:$port" --data-dir "$d/rekor-plain" \
        >"$d/plain.log" 2>&1; then
        fail "rekor-server refuses plain HTTP on 0.0.0.0" "it started and exited 0"
    elif grep -q "refusing plain HTTP" "$d/plain.log"; then
        pass "rekor-server refuses plain HTTP on 0.0.0.0 without --insecure-http"
    else
        fail "rekor-server refuses plain HTTP on 0.0.0.0" "$(tail -c 400 "$d/plain.log")"
    fi

    # --- the TUF repository over HTTPS: python-tuf trusting the CA ----------------------------
    if [ -z "${TUF_D:-}" ] || [ ! -f "$TUF_D/repository/1.root.json" ]; then
        fail "python-tuf over HTTPS" "no TUF workspace from the TUF section"
        return
    fi
    port=$(free_port)
    url="https://127.0.0.1:$port"
    "$BIN_DIR/tuf-root" serve --dir "$TUF_D" --listen "127.0.0.1:$port" \
        --tls-cert "$d/tls.pem" --tls-key "$d/tls.key" >"$d/tuf.log" 2>&1 &
    pid=$!
    if wait_healthy_tls "$url/healthz" "$pid" "$d/ca.pem" &&
        REQUESTS_CA_BUNDLE="$d/ca.pem" SSL_CERT_FILE="$d/ca.pem" timeout 120 "$PY" "$HERE/tuf_client.py" update \
            --metadata-dir "$d/py-meta" --target-dir "$d/py-targets" --url "$url" \
            --bootstrap "$TUF_D/repository/1.root.json" --download trusted_root.json >"$d/py.json" 2>"$d/py.err"; then
        pass "python-tuf bootstraps over HTTPS from tuf-root serve --tls-cert"
    else
        fail "python-tuf over HTTPS" "$(tail -c 500 "$d/py.err") $(tail -c 300 "$d/tuf.log")"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

wait_healthy_tls() { # URL PID CA
    local i
    for i in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -fsS --max-time 2 --cacert "$3" -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

tls_section
