# Our cosign's key files against Go cosign (section of scripts/interop.sh, sourced; uses
# $BIN_DIR, $COSIGN (Go cosign from tuf.sh), $WORK and the pass/fail/check helpers).
# Both directions: files each one writes are read by the other, with the same public key.

cosign_keys_section() {
    local ours="$BIN_DIR/cosign" d="$WORK/cosign-keys"
    if [ ! -x "$ours" ]; then
        fail "our cosign binary present" "not found at $ours (see the build case)"
        return
    fi
    if [ ! -x "${COSIGN:-}" ]; then
        fail "Go cosign present for key interop" "not installed (see the cosign install case)"
        return
    fi
    mkdir -p "$d" && cd "$d" || return
    # ours -> Go
    if COSIGN_PASSWORD=k1 "$ours" generate-key-pair --output-key-prefix ours >gen.out 2>&1 &&
        COSIGN_PASSWORD=k1 "$COSIGN" public-key --key ours.key >go-of-ours.pub 2>go.err &&
        cmp -s go-of-ours.pub ours.pub && [ "$(stat -c %a ours.key)" = 600 ]; then
        pass "Go cosign reads our generate-key-pair key (same public key, key file 0600)"
    else
        fail "Go cosign reads our generate-key-pair key" "$(cat gen.out go.err 2>/dev/null)"
    fi
    # Go -> ours
    if COSIGN_PASSWORD=k2 "$COSIGN" generate-key-pair --output-key-prefix go >go-gen.out 2>&1 &&
        COSIGN_PASSWORD=k2 "$ours" public-key --key go.key >ours-of-go.pub 2>ours.err &&
        cmp -s ours-of-go.pub go.pub; then
        pass "our cosign reads Go's generate-key-pair key (same public key)"
    else
        fail "our cosign reads Go's generate-key-pair key" "$(cat go-gen.out ours.err 2>/dev/null)"
    fi
    # wrong password refused by ours, with upstream's message
    if ! COSIGN_PASSWORD=nope "$ours" public-key --key go.key >/dev/null 2>wrong.err &&
        grep -q "decryption failed" wrong.err; then
        pass "our cosign refuses a wrong password (decryption failed)"
    else
        fail "our cosign refuses a wrong password" "$(cat wrong.err)"
    fi
    # import of a SEC1 P-384 key: Go reads our import
    if openssl ecparam -name secp384r1 -genkey -noout -out p384.pem 2>/dev/null &&
        COSIGN_PASSWORD=k3 "$ours" import-key-pair --key p384.pem -o imp >imp.out 2>&1 &&
        COSIGN_PASSWORD=k3 "$COSIGN" public-key --key imp.key >go-of-imp.pub 2>go-imp.err &&
        cmp -s go-of-imp.pub imp.pub; then
        pass "Go cosign reads our import-key-pair of a SEC1 P-384 key"
    else
        fail "Go cosign reads our import-key-pair (P-384)" "$(cat imp.out go-imp.err 2>/dev/null)"
    fi
    # blob signatures without a transparency log, both directions
    echo "interop blob $(date +%s%N)" >blob.txt
    if COSIGN_PASSWORD=k1 "$ours" sign-blob --key ours.key --tlog-upload=false --output-signature ours.sig blob.txt >sb.out 2>&1 &&
        "$COSIGN" verify-blob --key ours.pub --signature ours.sig --insecure-ignore-tlog=true blob.txt >gv.out 2>&1; then
        pass "Go cosign verify-blob accepts our sign-blob --tlog-upload=false signature"
    else
        fail "Go cosign verifies our blob signature" "$(cat sb.out gv.out 2>/dev/null)"
    fi
    if COSIGN_PASSWORD=k2 "$COSIGN" sign-blob --key go.key --tlog-upload=false --use-signing-config=false \
        --output-signature go.sig blob.txt >gs.out 2>&1 &&
        "$ours" verify-blob --key go.pub --signature go.sig --insecure-ignore-tlog=true blob.txt >ov.out 2>&1 &&
        grep -q "Verified OK" ov.out; then
        pass "our cosign verify-blob accepts Go's sign-blob signature"
    else
        fail "our cosign verifies Go's blob signature" "$(cat gs.out ov.out 2>/dev/null)"
    fi
    echo "tampered" >>blob.txt
    if ! "$ours" verify-blob --key go.pub --signature go.sig --insecure-ignore-tlog=true blob.txt >ot.out 2>&1 &&
        grep -q "invalid signature" ot.out; then
        pass "our cosign verify-blob refuses a tampered blob"
    else
        fail "our cosign refuses a tampered blob" "$(cat ot.out)"
    fi
    cd "$ROOT" || true
}
cosign_keys_section
