# shellcheck shell=bash
# RFC 3161 timestamp authority cases, run inside stack_section (scripts/interop/stack.sh) while the
# stack from scripts/up.sh is up: our timestamp-server against OpenSSL's `ts` tool and the upstream
# clients, which all take the TSA from signing_config.v0.2.json (tsaUrls) and verify against
# trusted_root.json (timestampAuthorities). Uses the bundles the matrix above wrote.

# tsa_bundle_parts BUNDLE OUTPREFIX: OUTPREFIX.tsr (the DER TimeStampResp) and prints the SHA-256 hex
# of the signature bytes (message signature, or the DSSE envelope's signature).
tsa_bundle_parts() {
    jq -r '.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp // empty' "$1" |
        base64 -d >"$2.tsr" 2>/dev/null || return 1
    [ -s "$2.tsr" ] || return 1
    jq -r '.messageSignature.signature // .dsseEnvelope.signatures[0].sig' "$1" | base64 -d | sha256sum | cut -d' ' -f1
}

tsa_cases() {
    local name rc bad f out tsa_url tsa_base root leaf c st hex
    tsa_url=${STK_ENV[SIGSTACK_TSA_URL]:-}
    tsa_base=${tsa_url%/api/v1/timestamp}
    root=$STK_STATE/tsa/root.crt.pem
    leaf=$STK_STATE/tsa/tsa.crt.pem

    name="tsa: /api/v1/timestamp/certchain = trusted_root.json timestampAuthorities[0] (leaf, root) = signing config tsaUrls"
    if stk_need "$name" up; then
        "${CURL[@]}" -f -o "$S/tsa-chain.pem" "$tsa_base/api/v1/timestamp/certchain" 2>"$S/curl.err"
        rc=$?
        "$PY" - "$S/tsa-chain.pem" "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" "${STK_ENV[SIGSTACK_SIGNING_CONFIG]}" "$tsa_url" >"$S/tsa-chain.out" 2>&1 <<'PYEOF'
import base64, json, re, sys
pem = open(sys.argv[1]).read()
served = [base64.b64decode("".join(b.split())) for b in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)]
root = json.load(open(sys.argv[2]))
tsas = root.get("timestampAuthorities", [])
assert len(tsas) == 1, f"{len(tsas)} timestamp authorities in the trusted root"
listed = [base64.b64decode(c["rawBytes"]) for c in tsas[0]["certChain"]["certificates"]]
assert len(served) == 2, f"{len(served)} certificates served"
assert served == listed, "served chain != trusted root chain"
sc = json.load(open(sys.argv[3]))
urls = [t["url"] for t in sc.get("tsaUrls", [])]
assert urls == [sys.argv[4]], f"signing config tsaUrls {urls}"
assert sc.get("tsaConfig", {}).get("selector") == "ANY", sc.get("tsaConfig")
print("ok")
PYEOF
        st=$?
        check "$name" "$([ "$rc$st" = 00 ] && echo 0 || echo 1)" "curl exit $rc $(cat "$S/curl.err"); check: $(cat "$S/tsa-chain.out")"
    fi

    name="tsa: openssl ts -query (SHA-256 and SHA-512, nonce, -cert) -> our TSA -> openssl ts -verify -data (and -queryfile: nonce, imprint)"
    if stk_need "$name" up; then
        bad=""
        printf 'data stamped by openssl %s\n' "$(date +%s%N)" >"$S/tsa-data.txt"
        for alg in sha256 sha512; do
            openssl ts -query -data "$S/tsa-data.txt" "-$alg" -cert -out "$S/tsa-$alg.tsq" 2>"$S/tsa-openssl.err" ||
                { bad+="openssl ts -query -$alg failed: $(cat "$S/tsa-openssl.err"); "; continue; }
            out=$("${CURL[@]}" -s -o "$S/tsa-$alg.tsr" -w '%{http_code} %{content_type}' \
                -H 'Content-Type: application/timestamp-query' --data-binary "@$S/tsa-$alg.tsq" "$tsa_url" 2>&1)
            [ "$out" = "200 application/timestamp-reply" ] || bad+="$alg: HTTP '$out'; "
            openssl ts -verify -data "$S/tsa-data.txt" -in "$S/tsa-$alg.tsr" -CAfile "$root" >"$S/tsa-v1.out" 2>&1 ||
                bad+="$alg: openssl ts -verify -data: $(oneline <"$S/tsa-v1.out"); "
            openssl ts -verify -queryfile "$S/tsa-$alg.tsq" -in "$S/tsa-$alg.tsr" -CAfile "$root" >"$S/tsa-v2.out" 2>&1 ||
                bad+="$alg: openssl ts -verify -queryfile: $(oneline <"$S/tsa-v2.out"); "
        done
        # Another file's data must not verify.
        printf 'other data\n' >"$S/tsa-other.txt"
        openssl ts -verify -data "$S/tsa-other.txt" -in "$S/tsa-sha256.tsr" -CAfile "$root" >/dev/null 2>&1 &&
            bad+="openssl ts -verify accepted the reply for other data; "
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi

    # The bundles the upstream clients and ours signed through the signing config above.
    name="tsa: every client that signed through signing_config.v0.2.json put our TSA's timestamp in its bundle, and openssl ts -verify accepts each (imprint = SHA-256 of the signature)"
    if stk_need "$name" up; then
        bad=""
        local n=0
        for f in "$S/artifact-py.sigstore.json:sigstore-python" "$S/artifact-py-mock.sigstore.json:sigstore-python (TUF)" \
            "$S/artifact-cosign.sigstore.json:cosign $COSIGN_VERSION" "$S/artifact-cosign-tuf.sigstore.json:cosign $COSIGN_VERSION (TUF)" \
            "$S/artifact-ours.sigstore.json:our cosign" "$S/att-cosign.sigstore.json:cosign $COSIGN_VERSION attest-blob (DSSE)" \
            "$S/att-ours.sigstore.json:our attest-blob (DSSE)"; do
            c=${f#*:}
            f=${f%%:*}
            if [ ! -s "$f" ]; then
                bad+="$c: no bundle $f; "
                continue
            fi
            if ! hex=$(tsa_bundle_parts "$f" "$S/tsa-b$n"); then
                bad+="$c: no RFC 3161 timestamp in ${f##*/}; "
                continue
            fi
            openssl ts -verify -digest "$hex" -in "$S/tsa-b$n.tsr" -CAfile "$root" -untrusted "$leaf" >"$S/tsa-b$n.out" 2>&1 ||
                bad+="$c: openssl ts -verify: $(oneline <"$S/tsa-b$n.out"); "
            n=$((n + 1))
        done
        check "$name" "$([ -z "$bad" ] && [ "$n" -ge 5 ] && echo 0 || echo 1)" "$bad ($n verified)"
    fi

    # sigstore-js posts the JSON form ({artifactHash, hashAlgorithm}) to <base>/api/v1/timestamp.
    local A_JST="$S/artifact-js-tsa.txt" B_JST="$S/artifact-js-tsa.sigstore.json" ID_JST=ivan@example.com
    printf 'sigstack js tsa artifact %s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$A_JST"
    name="tsa: sigstore-js sign with tsaServerURL=<TSA base> (JSON request form) -> bundle with a timestamp"
    if stk_need "$name" up js; then
        stk_token_file "$S/js-tsa-token" "$(stk_dev_token "$ID_JST")"
        stk_js js-sign-tsa sign --fulcio "${STK_ENV[SIGSTACK_FULCIO_URL]}" --rekor "${STK_ENV[SIGSTACK_REKOR_URL]}" \
            --tsa "$tsa_base" --token-file "$S/js-tsa-token" --artifact "$A_JST" --bundle "$B_JST"
        rc=$?
        hex=$(tsa_bundle_parts "$B_JST" "$S/tsa-js" 2>/dev/null)
        check "$name" "$([ "$rc" -eq 0 ] && [ -n "$hex" ] && echo 0 || echo 1)" "$(stk_out js-sign-tsa "$rc"); timestamp: '${hex:-none}'"
    fi
    name="tsa: the sigstore-js bundle verifies with cosign $COSIGN_VERSION --use-signed-timestamps, sigstore-python, sigstore-js and our cosign --use-signed-timestamps"
    if stk_need "$name" up js py cosign ours "file:$B_JST:bundle from the sigstore-js tsaServerURL case"; then
        bad=""
        stk_cos files tsa-cos-verify verify-blob --use-signed-timestamps --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_JST" --certificate-identity "$ID_JST" --certificate-oidc-issuer "$ISS" "$A_JST" ||
            bad+="cosign: $(stk_out tsa-cos-verify $? 300); "
        stk_verify py tsa-py-verify "$B_JST" "$A_JST" "$ID_JST" "$ISS" || bad+="sigstore-python: $(stk_out tsa-py-verify $? 300); "
        stk_verify js tsa-js-verify "$B_JST" "$A_JST" "$ID_JST" "$ISS" || bad+="sigstore-js: $(stk_out tsa-js-verify $? 300); "
        stk_ours tsa-ours-verify verify-blob --use-signed-timestamps --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" \
            --bundle "$B_JST" --certificate-identity "$ID_JST" --certificate-oidc-issuer "$ISS" "$A_JST" ||
            bad+="ours: $(stk_out tsa-ours-verify $? 300); "
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi

    # A timestamp over another signature, and a trusted root without the TSA.
    name="tsa: our cosign refuses a bundle whose timestamp covers another signature, and one whose TSA is not in the trusted root (upstream verifiers' verdicts reported)"
    if stk_need "$name" up ours "file:$S/artifact-ours.sigstore.json:our cosign's bundle" "file:$S/artifact-py.sigstore.json:sigstore-python's bundle"; then
        bad=""
        local other
        other=$(jq -c '.verificationMaterial.timestampVerificationData' "$S/artifact-py.sigstore.json")
        jq --argjson t "$other" '.verificationMaterial.timestampVerificationData = $t' "$S/artifact-ours.sigstore.json" >"$S/tsa-swapped.sigstore.json"
        jq '.timestampAuthorities = []' "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" >"$S/tsa-no-tsa-root.json"
        stk_ours tsa-swap verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/tsa-swapped.sigstore.json" \
            --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        rc=$?
        { [ "$rc" -ne 0 ] && grep -q "message imprint" "$S/tsa-swap.out"; } || bad+="ours accepted or gave another reason: $(stk_out tsa-swap "$rc" 300); "
        stk_ours tsa-noroot verify-blob --trusted-root "$S/tsa-no-tsa-root.json" --bundle "$S/artifact-ours.sigstore.json" \
            --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS"
        rc=$?
        { [ "$rc" -ne 0 ] && grep -q "RFC 3161 timestamp 0" "$S/tsa-noroot.out"; } || bad+="ours with no TSA in the root: $(stk_out tsa-noroot "$rc" 300); "
        local verdicts=""
        if [ -x "$COSIGN" ]; then
            stk_cos files tsa-swap-cos verify-blob --trusted-root "${STK_ENV[SIGSTACK_TRUSTED_ROOT]}" --bundle "$S/tsa-swapped.sigstore.json" \
                --certificate-identity "$ID_OURS" --certificate-oidc-issuer "$ISS" "$A_OURS" && verdicts+="cosign accepts the swapped timestamp; " ||
                verdicts+="cosign refuses the swapped timestamp; "
        fi
        if [ -x "$VENV/bin/sigstore" ]; then
            stk_verify py tsa-swap-py "$S/tsa-swapped.sigstore.json" "$A_OURS" "$ID_OURS" "$ISS" && verdicts+="sigstore-python accepts it" ||
                verdicts+="sigstore-python refuses it"
        fi
        if [ -z "$bad" ]; then
            pass "$name ($verdicts)"
        else
            fail "$name" "$bad"
        fi
    fi

    name="tsa: bad requests get upstream's errors and no timestamp (SHA-1 JSON 400 weak hash, garbage DER 400, text/plain 415, extension 400)"
    if stk_need "$name" up; then
        bad=""
        tsa_expect() { # WANT-STATUS MESSAGE-ERE CURL-ARGS...
            local want=$1 ere=$2 got
            shift 2
            got=$("${CURL[@]}" -s -o "$S/tsa-err.json" -w '%{http_code}' "$@" "$tsa_url" 2>&1)
            [ "$got" = "$want" ] || { bad+="HTTP $got (want $want) for $*; "; return; }
            jq -e --argjson c "$want" '.code == $c' "$S/tsa-err.json" >/dev/null 2>&1 || bad+="body $(head -c 200 "$S/tsa-err.json") is not {code: $want, message}; "
            jq -r '.message' "$S/tsa-err.json" 2>/dev/null | grep -Eq "$ere" || bad+="message $(jq -r .message "$S/tsa-err.json" 2>/dev/null) !~ /$ere/; "
        }
        tsa_expect 400 'Weak hash algorithm' -H 'Content-Type: application/json' --data '{"artifactHash":"AAAAAAAAAAAAAAAAAAAAAAAAAAA=","hashAlgorithm":"sha1"}'
        tsa_expect 400 'incorrect length' -H 'Content-Type: application/json' --data '{"artifactHash":"AAAA","hashAlgorithm":"sha256"}'
        tsa_expect 400 'Error generating timestamp response' -H 'Content-Type: application/timestamp-query' --data-binary 'not DER'
        tsa_expect 415 'unsupported media type' -H 'Content-Type: text/plain' --data 'x'
        # openssl's query with an extension appended ([0] { SEQUENCE {} }), lengths patched.
        if [ -s "$S/tsa-sha256.tsq" ]; then
            "$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); b=d[2:]+bytes([0xa0,2,0x30,0]); open(sys.argv[2],"wb").write(bytes([0x30,len(b)])+b)' \
                "$S/tsa-sha256.tsq" "$S/tsa-ext.tsq"
            tsa_expect 400 'unaccepted extension' -H 'Content-Type: application/timestamp-query' --data-binary "@$S/tsa-ext.tsq"
        fi
        "${CURL[@]}" -s "$tsa_base/metrics" -o "$S/tsa-metrics.txt"
        grep -q 'tsa_timestamps_total{outcome="rejected"}' "$S/tsa-metrics.txt" || bad+="/metrics has no rejected count; "
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi
}
