# TUF section of scripts/interop.sh (sourced after fulcio.sh: uses its pass/fail/check, $WORK,
# $CACHE, $CURL, $PY/$VENV, free_port, the running Rekor at $URL with key $WORK/log-pub.pem, and
# from fulcio.sh $FULCIO_URL, $CTLOG_URL, $OIDC_URL, $F/rootCert.pem, $F/ctlog-pub.pem,
# mint_token, wait_healthy and the sigstore-js prefix $SIGSTORE_JS_DIR).
#
# Binary under test: tuf-root (the TUF repository publisher for trusted_root.json and
# signing_config.v0.2.json), built by interop.sh's build step into $BIN_DIR
# (TUF_ROOT_BIN=/path/to/tuf-root overrides).
#
# Peers: python-tuf ngclient (tuf==7.0.1, already in the sigstore-python venv as a dependency;
# tuf_client.py), tuf-js (npm, the exact version sigstore-js resolved, pinned in fulcio.sh's
# SIGSTORE_JS_PKGS; tuf_js.js), sigstore-python (--instance URL trust-instance / sign / verify),
# sigstore-js (sigstore.verify with tufMirrorURL/tufRootPath) and Go cosign v3
# (go install, cached under $CACHE/go/cosign-<ver>; initialize --mirror --root, verify-blob of
# the sigstore-python bundle, sign-blob with the signing config from TUF).
#
# Flow: keygen (one encrypted root key) -> init (2 root keys, threshold 2) -> set-trust against
# the running Fulcio/Rekor/CT log/OIDC -> serve -> python-tuf and tuf-js bootstrap from
# 1.root.json -> rotate-root (staged) + sign-root (published root 2) -> refresh --force ->
# both clients update from their own caches -> the Sigstore clients over TUF -> attacks on
# served copies (tampered targets metadata, tampered target file, timestamp rollback) ->
# export/import (air gap) -> python-tuf from the imported bundle.

TUF_PY_VERSION=7.0.1 # what sigstore==4.5.1 resolved in its venv
TUF_JS_VERSION=6.0.2 # what sigstore@5.0.1 (@sigstore/tuf 5.0.1: tuf-js ^6.0.2) resolved; pinned in SIGSTORE_JS_PKGS
# newest v3.0.x on the Go proxy (v3.0.7 .. v3.1.0 are not served); go.mod says go 1.25.7, so the
# local go 1.26 builds it under GOTOOLCHAIN=local. A cold build takes ~10 min on 2 CPUs.
COSIGN_VERSION=v3.0.6
COSIGN_DIR="$CACHE/go/cosign-$COSIGN_VERSION"
COSIGN="$COSIGN_DIR/cosign"
T="$WORK/tuf"
mkdir -p "$T"
TUF_PASS=interop-tuf-pass
TUF_BIN=""
TUF_D="$T/d"           # the tuf-root working dir (tuf-root.toml + repository/)
TUF_REPO="$TUF_D/repository"
TUF_URL=""             # tuf-root serve --dir $TUF_D
TUF_SERVE_PID=""
TUF_PIDS=()            # other tuf-root serve processes (copies, imported bundle)
TUF_IDENTITY=alice@example.com

tuf_cleanup() {
    local p
    for p in $TUF_SERVE_PID "${TUF_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    TUF_SERVE_PID=""
    TUF_PIDS=()
}

# ----------------------------------------------------------------------------- installs

tuf_install_python_tuf() {
    local name="install python-tuf $TUF_PY_VERSION (sigstore-python venv)" log="$CACHE/logs/python-tuf-install.log" got
    if [ ! -x "$PY" ]; then
        fail "$name" "sigstore-python venv missing ($PY): see its install case"
        return
    fi
    got=$("$PY" -c 'import importlib.metadata as m; print(m.version("tuf"))' 2>/dev/null)
    if [ "$got" = "$TUF_PY_VERSION" ]; then
        pass "$name (present as a sigstore $SIGSTORE_PY_VERSION dependency)"
        return
    fi
    if "$VENV/bin/pip" install --disable-pip-version-check -q "tuf==$TUF_PY_VERSION" >"$log" 2>&1 &&
        [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("tuf"))' 2>/dev/null)" = "$TUF_PY_VERSION" ]; then
        pass "$name (pip installed; the venv had '${got:-none}')"
    else
        fail "$name" "venv has tuf '${got:-none}'; pip install tuf==$TUF_PY_VERSION: $(tail -5 "$log")"
    fi
}

tuf_js_present() {
    [ "$(node -p "require('$SIGSTORE_JS_DIR/node_modules/tuf-js/package.json').version" 2>/dev/null)" = "$TUF_JS_VERSION" ]
}

tuf_install_tuf_js() {
    local name="install tuf-js $TUF_JS_VERSION (npm, pinned in the sigstore-js prefix)" got
    got=$(node -p "require('$SIGSTORE_JS_DIR/node_modules/tuf-js/package.json').version" 2>/dev/null)
    if tuf_js_present; then
        pass "$name (node $(node --version))"
    else
        fail "$name" "$SIGSTORE_JS_DIR/node_modules/tuf-js is '${got:-missing}' (installed by the sigstore-js install case)"
    fi
}

tuf_install_cosign() {
    go_install "install cosign $COSIGN_VERSION (go install github.com/sigstore/cosign/v3/cmd/cosign)" "$COSIGN" \
        github.com/sigstore/cosign/v3 github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN_VERSION" 3000
}

# ----------------------------------------------------------------------------- helpers

# troot OUTNAME ARGS...: tuf-root ARGS with the passphrase of the encrypted root key in the
# environment; stdout+stderr in $T/OUTNAME.out
troot() {
    local out=$1
    shift
    SIGSTACK_TUF_PASSPHRASE=$TUF_PASS timeout 300 "$TUF_BIN" "$@" >"$T/$out.out" 2>&1
}
troot_err() { printf 'tuf-root %s: exit %s: %s' "$1" "$2" "$(tail -c 1200 "$T/$3.out")"; }

tuf_bin_ok() { [ -n "$TUF_BIN" ] && [ -x "$TUF_BIN" ]; }
tuf_up() { [ -n "$TUF_SERVE_PID" ] && kill -0 "$TUF_SERVE_PID" 2>/dev/null; }

# tuf_need NAME WHAT...: FAIL NAME (and return 1) unless every prerequisite holds.
# WHAT: bin (tuf-root built), repo (init succeeded), trust (set-trust succeeded),
# serve (tuf-root serve up), py (python-tuf), js (tuf-js), sjs (sigstore-js), cosign,
# rekor (our Rekor up), sigstore (Fulcio, CT log and OIDC mock from the fulcio section).
TUF_REPO_OK=0
TUF_TRUST_OK=0
tuf_need() {
    local name=$1 w
    shift
    for w in "$@"; do
        case $w in
        bin) tuf_bin_ok || { fail "$name" "no tuf-root binary (see 'tuf-root binary present')"; return 1; } ;;
        repo) [ "$TUF_REPO_OK" = 1 ] || { fail "$name" "no repository (see the tuf-root init case)"; return 1; } ;;
        trust) [ "$TUF_TRUST_OK" = 1 ] || { fail "$name" "no trusted_root.json target (see the tuf-root set-trust case)"; return 1; } ;;
        serve) tuf_up || { fail "$name" "tuf-root serve is not running (see the serve case)"; return 1; } ;;
        py) [ -x "$PY" ] && [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("tuf"))' 2>/dev/null)" = "$TUF_PY_VERSION" ] ||
            { fail "$name" "python-tuf $TUF_PY_VERSION not installed (see its install case)"; return 1; } ;;
        js) tuf_js_present || { fail "$name" "tuf-js $TUF_JS_VERSION not installed (see its install case)"; return 1; } ;;
        sjs) sigstore_js_present || { fail "$name" "sigstore-js $SIGSTORE_JS_VERSION not installed (see its install case)"; return 1; } ;;
        cosign) [ -x "$COSIGN" ] || { fail "$name" "cosign $COSIGN_VERSION not installed (see its install case)"; return 1; } ;;
        rekor) server_up && [ -n "$URL" ] || { fail "$name" "the Rekor server is not running (see the server start case)"; return 1; } ;;
        sigstore) [ -n "${FULCIO_URL:-}" ] && [ -n "${OIDC_URL:-}" ] && [ -n "${CTLOG_URL:-}" ] && [ -s "$F/ctlog-pub.pem" ] ||
            { fail "$name" "Fulcio/CT log/OIDC mock not set up (see the fulcio section)"; return 1; } ;;
        esac
    done
    return 0
}

tuf_has_dir() { # NAME PATH REASON: FAIL NAME unless PATH exists
    [ -e "$2" ] && return 0
    fail "$1" "$3"
    return 1
}

# tuf_serve VAR-PID VAR-URL ARGS...: start tuf-root serve ARGS on a free port; 0 when /healthz answers
tuf_serve() {
    local __pid=$1 __url=$2 __port __p
    shift 2
    __port=$(free_port)
    "$TUF_BIN" serve "$@" --listen "127.0.0.1:$__port" >>"$T/serve-$__port.log" 2>&1 &
    __p=$!
    printf -v "$__pid" '%s' "$__p"
    printf -v "$__url" '%s' "http://127.0.0.1:$__port"
    wait_healthy "http://127.0.0.1:$__port/healthz" "$__p"
}

# pyc OUTNAME ARGS...: tuf_client.py with the venv python; stdout in $T/OUTNAME.json, stderr in $T/OUTNAME.err
pyc() {
    local out=$1
    shift
    timeout 120 "$PY" "$HERE/tuf_client.py" "$@" >"$T/$out.json" 2>"$T/$out.err"
}
# jsc OUTNAME ARGS...: tuf_js.js with the pinned packages
jsc() {
    local out=$1
    shift
    NODE_PATH="$SIGSTORE_JS_DIR/node_modules" timeout 120 node "$HERE/tuf_js.js" "$@" >"$T/$out.json" 2>"$T/$out.err"
}
c_err() { printf 'exit %s; stderr: %s; stdout: %s' "$2" "$(tail -c 1000 "$T/$1.err")" "$(head -c 400 "$T/$1.json")"; }

# version of a role in a metadata file
mver() { jq -r '.signed.version // empty' "$1" 2>/dev/null; }
# cur_targets REPO: path of the targets metadata the current timestamp -> snapshot point at
cur_targets() {
    local sv tv
    sv=$(jq -r '.signed.meta["snapshot.json"].version // empty' "$1/timestamp.json" 2>/dev/null)
    tv=$(jq -r '.signed.meta["targets.json"].version // empty' "$1/$sv.snapshot.json" 2>/dev/null)
    echo "$1/$tv.targets.json"
}

# tuf_dl_case NAME OUT: the client's JSON names both targets and their bytes equal D/<name>
tuf_same_targets() {
    local out=$1 n p bad=""
    for n in trusted_root.json signing_config.v0.2.json; do
        p=$(jq -r --arg n "$n" '.downloaded[$n] // empty' "$T/$out.json" 2>/dev/null)
        if [ -z "$p" ] || ! cmp -s "$p" "$TUF_D/$n"; then
            bad+="$n: downloaded '$p' differs from $TUF_D/$n; "
        fi
    done
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}

# tamper copy FILE: flip one hex digit (same length) in the first "sha256": "<hex>" value of FILE
flip_hash_digit() {
    python3 - "$1" <<'PYEOF'
import re, sys
p = sys.argv[1]
b = open(p, "rb").read()
m = re.search(rb'"sha256"\s*:\s*"([0-9a-f])', b)
if not m:
    sys.exit(f"no sha256 value in {p}")
i = m.start(1)
b = b[:i] + (b"1" if b[i:i + 1] != b"1" else b"2") + b[i + 1:]
open(p, "wb").write(b)
PYEOF
}
# flip one byte (same length) in the middle of FILE
flip_byte() {
    python3 - "$1" <<'PYEOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = len(b) // 2
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(bytes(b))
PYEOF
}

# ----------------------------------------------------------------------------- section

tuf_section() {
    local rc st name k msg="" bad="" want_ids="" got_ids="" gr gt token

    tuf_install_python_tuf
    tuf_install_tuf_js
    tuf_install_cosign

    TUF_BIN=${TUF_ROOT_BIN:-${BIN_DIR:+$BIN_DIR/tuf-root}}
    if tuf_bin_ok && "$TUF_BIN" --help >"$T/help.out" 2>&1; then
        pass "tuf-root binary present ($TUF_BIN --help)"
    else
        fail "tuf-root binary present" "'$TUF_BIN' $([ -x "$TUF_BIN" ] && echo "--help failed: $(head -c 400 "$T/help.out")" || echo "does not exist (see the build case; cargo test --no-run builds a package's binary only when it has integration tests)")"
        TUF_BIN=""
    fi

    # The fulcio section ends with its "CT log unreachable" case: bring the CT log back on the
    # same port and data dir (Fulcio is configured with that URL), it must keep its key.
    name="ctlog-server restarted for the TUF section (same port, data dir and key)"
    if [ -n "${CTLOG_URL:-}" ] && [ -x "$BIN_DIR/ctlog-server" ] && [ -s "$F/ctlog-pub.pem" ]; then
        if [ -n "$CTLOG_PID" ] && kill -0 "$CTLOG_PID" 2>/dev/null; then
            pass "$name (still running)"
        else
            "$BIN_DIR/ctlog-server" --listen "${CTLOG_URL#http://}" --data-dir "$F/ctlog" \
                --roots-pem-file "$F/ca/root.crt.pem" >>"$F/ctlog.log" 2>&1 &
            CTLOG_PID=$!
            if wait_healthy "$CTLOG_URL/healthz" "$CTLOG_PID" &&
                cmp -s <(openssl pkey -in "$F/ctlog/ctlog-key.pem" -pubout 2>/dev/null) "$F/ctlog-pub.pem"; then
                pass "$name"
            else
                fail "$name" "$(tail -c 600 "$F/ctlog.log")"
            fi
        fi
    else
        fail "$name" "no CT log from the fulcio section (CTLOG_URL='${CTLOG_URL:-}')"
    fi

    # --- keys ----------------------------------------------------------------------------
    # root1 Ed25519, root2 P-256 encrypted with $SIGSTACK_TUF_PASSPHRASE, root3 (for the
    # rotation) P-256; targets Ed25519, snapshot P-256, timestamp Ed25519; all but root2 unencrypted.
    mkdir -p "$T/keys"
    local -A KID=()
    name="tuf-root keygen --unencrypted (Ed25519 and P-256; PKCS#8 PEM, 0600, prints the key id)"
    if tuf_need "$name" bin; then
        local spec
        for spec in root1:--ed25519 root3: targets:--ed25519 snapshot: timestamp:--ed25519; do
            k=${spec%%:*}
            # shellcheck disable=SC2086
            troot "keygen-$k" keygen --out "$T/keys/$k.pem" ${spec#*:} --unencrypted
            rc=$?
            KID[$k]=$(grep -oE '\b[0-9a-f]{64}\b' "$T/keygen-$k.out" | head -1)
            if [ "$rc" -ne 0 ]; then
                bad+="$(troot_err "keygen ${spec#*:} --unencrypted" "$rc" "keygen-$k"); "
            elif [ "$(stat -c %a "$T/keys/$k.pem" 2>/dev/null)" != 600 ] || ! grep -q '^-----BEGIN PRIVATE KEY-----' "$T/keys/$k.pem" ||
                [ -z "${KID[$k]}" ]; then
                bad+="$k: mode '$(stat -c %a "$T/keys/$k.pem" 2>/dev/null)', header '$(head -1 "$T/keys/$k.pem" 2>/dev/null)', key id '${KID[$k]}' (output: $(head -c 200 "$T/keygen-$k.out")); "
            fi
        done
        # the key types, from the PKCS#8 AlgorithmIdentifier (openssl asn1parse: the Ed25519 file is
        # RFC 5958 v2 with the public key, which `openssl pkey` 3.0 does not load)
        openssl asn1parse -in "$T/keys/root1.pem" 2>/dev/null | grep -q 'OBJECT *:ED25519' ||
            bad+="root1 (--ed25519) is not an Ed25519 PKCS#8 key: $(openssl asn1parse -in "$T/keys/root1.pem" 2>&1 | head -4 | tr '\n' ' '); "
        openssl asn1parse -in "$T/keys/root3.pem" 2>/dev/null | grep -q 'OBJECT *:prime256v1' ||
            bad+="root3 (default) is not a P-256 PKCS#8 key: $(openssl asn1parse -in "$T/keys/root3.pem" 2>&1 | head -4 | tr '\n' ' '); "
        check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
    fi
    name="tuf-root keygen (P-256 encrypted with SIGSTACK_TUF_PASSPHRASE: ENCRYPTED PRIVATE KEY, 0600, decrypts with it only)"
    if tuf_need "$name" bin; then
        troot keygen-root2 keygen --out "$T/keys/root2.pem"
        rc=$?
        KID[root2]=$(grep -oE '\b[0-9a-f]{64}\b' "$T/keygen-root2.out" | head -1)
        if [ "$rc" -eq 0 ] && [ "$(stat -c %a "$T/keys/root2.pem")" = 600 ] &&
            grep -q '^-----BEGIN ENCRYPTED PRIVATE KEY-----' "$T/keys/root2.pem" && [ -n "${KID[root2]}" ] &&
            "$PY" - "$T/keys/root2.pem" "$TUF_PASS" >"$T/dec.out" 2>&1 <<'PYEOF'; then
# pyca/cryptography decrypts it with the passphrase (openssl pkey refuses the scrypt
# parameters: its default scrypt memory limit is 32 MiB) and refuses a wrong one
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
data = open(sys.argv[1], "rb").read()
key = serialization.load_pem_private_key(data, sys.argv[2].encode())
assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1", f"not a P-256 key: {key!r}"
try:
    serialization.load_pem_private_key(data, b"wrong")
except ValueError:
    pass
else:
    sys.exit("decrypted with a wrong passphrase")
PYEOF
            pass "$name"
        else
            fail "$name" "$(troot_err keygen "$rc" keygen-root2); mode $(stat -c %a "$T/keys/root2.pem" 2>/dev/null); header '$(head -1 "$T/keys/root2.pem" 2>/dev/null)'; decrypt: $(tail -c 400 "$T/dec.out" 2>/dev/null)"
        fi
    fi

    # --- init ----------------------------------------------------------------------------
    local init_args=(--root-key "$T/keys/root1.pem" --root-key "$T/keys/root2.pem" --root-threshold 2
        --targets-key "$T/keys/targets.pem" --snapshot-key "$T/keys/snapshot.pem" --timestamp-key "$T/keys/timestamp.pem")
    name="tuf-root init with the encrypted root key and a wrong passphrase is refused"
    if tuf_need "$name" bin; then
        SIGSTACK_TUF_PASSPHRASE=wrong timeout 300 "$TUF_BIN" init --dir "$T/d-wrongpass" "${init_args[@]}" >"$T/init-wrong.out" 2>&1
        rc=$?
        check "$name" "$([ "$rc" -ne 0 ] && [ ! -e "$T/d-wrongpass/repository/1.root.json" ] && echo 0 || echo 1)" \
            "exit $rc, 1.root.json $([ -e "$T/d-wrongpass/repository/1.root.json" ] && echo written || echo absent): $(tail -c 400 "$T/init-wrong.out")"
    fi
    name="tuf-root init (root: Ed25519 + encrypted P-256, threshold 2; 1.root.json, root.json, 1.targets.json, 1.snapshot.json, timestamp.json)"
    if tuf_need "$name" bin; then
        troot init init --dir "$TUF_D" "${init_args[@]}"
        rc=$?
        local f
        bad=""
        if [ "$rc" -ne 0 ]; then
            bad="$(troot_err init "$rc" init)"
        else
            for f in tuf-root.toml repository/1.root.json repository/root.json repository/1.targets.json \
                repository/1.snapshot.json repository/timestamp.json; do
                [ -s "$TUF_D/$f" ] || bad+="$f missing; "
            done
            cmp -s "$TUF_REPO/root.json" "$TUF_REPO/1.root.json" || bad+="root.json != 1.root.json; "
            want_ids=$(printf '%s\n' "${KID[root1]:-}" "${KID[root2]:-}" | sort | tr '\n' ' ')
            got_ids=$(jq -r '.signed.roles.root.keyids[]' "$TUF_REPO/1.root.json" 2>/dev/null | sort | tr '\n' ' ')
            [ "$got_ids" = "$want_ids" ] || bad+="root keyids '$got_ids' != keygen ids '$want_ids'; "
            [ "$(jq -r '.signed.roles.root.threshold' "$TUF_REPO/1.root.json" 2>/dev/null)" = 2 ] || bad+="root threshold != 2; "
            [ "$(jq -r '.signed.consistent_snapshot' "$TUF_REPO/1.root.json" 2>/dev/null)" = true ] || bad+="consistent_snapshot != true; "
            [ "$(jq '.signatures | length' "$TUF_REPO/1.root.json" 2>/dev/null)" = 2 ] || bad+="1.root.json has $(jq '.signatures | length' "$TUF_REPO/1.root.json" 2>/dev/null) signatures (want 2); "
            for k in targets snapshot timestamp; do
                [ "$(jq -r --arg r "$k" '.signed.roles[$r].keyids | join(" ")' "$TUF_REPO/1.root.json" 2>/dev/null)" = "${KID[$k]:-}" ] ||
                    bad+="$k keyids != keygen id ${KID[$k]:-}; "
            done
        fi
        if [ -z "$bad" ]; then
            TUF_REPO_OK=1
            pass "$name"
        else
            fail "$name" "$bad"
        fi
    fi

    # Paths on the command line are relative to the working directory, as for any CLI.
    # init records the online keys in tuf-root.toml: later commands (from the same or another
    # working directory) must find them.
    name="tuf-root init with key paths relative to the working directory; refresh finds the keys afterwards"
    if tuf_need "$name" bin; then
        (cd "$T" && SIGSTACK_TUF_PASSPHRASE=$TUF_PASS timeout 300 "$TUF_BIN" init --dir d-rel \
            --root-key keys/root1.pem --root-key keys/root3.pem --root-threshold 2 --targets-key keys/targets.pem \
            --snapshot-key keys/snapshot.pem --timestamp-key keys/timestamp.pem) >"$T/init-rel.out" 2>&1
        rc=$?
        local rc2=- rc3=-
        if [ "$rc" -eq 0 ]; then
            (cd "$T" && timeout 300 "$TUF_BIN" refresh --dir d-rel --force) >"$T/refresh-rel.out" 2>&1
            rc2=$?
            (cd / && timeout 300 "$TUF_BIN" refresh --dir "$T/d-rel" --force) >"$T/refresh-rel2.out" 2>&1
            rc3=$?
        fi
        check "$name" "$([ "$rc" -eq 0 ] && [ "$rc2" = 0 ] && [ "$rc3" = 0 ] && echo 0 || echo 1)" \
            "(cd \$T && tuf-root init --dir d-rel --root-key keys/root1.pem ... --timestamp-key keys/timestamp.pem): exit $rc: $(tail -c 300 "$T/init-rel.out"); then (cd \$T && tuf-root refresh --dir d-rel --force): exit $rc2: $(tail -c 300 "$T/refresh-rel.out" 2>/dev/null); (cd / && tuf-root refresh --dir \$T/d-rel --force): exit $rc3: $(tail -c 300 "$T/refresh-rel2.out" 2>/dev/null); tuf-root.toml [keys]: $(sed -n '/^\[keys\]/,$p' "$T/d-rel/tuf-root.toml" 2>/dev/null | tail -n +2 | tr '\n' ' ')"
    fi

    # --- set-trust -----------------------------------------------------------------------
    name="tuf-root set-trust (Fulcio chain from /api/v2/trustBundle, Rekor key from /api/v1/log/publicKey, CT log key, OIDC)"
    if tuf_need "$name" bin repo rekor sigstore; then
        troot set-trust set-trust --dir "$TUF_D" --fulcio-url "$FULCIO_URL" --rekor-url "$URL" \
            --ctlog-url "$CTLOG_URL" --ctlog-public-key "$F/ctlog-pub.pem" --oidc-url "$OIDC_URL" \
            --operator sigstack-interop --start 2020-01-01T00:00:00Z
        rc=$?
        local tname
        bad=""
        if [ "$rc" -ne 0 ]; then
            bad="$(troot_err set-trust "$rc" set-trust)"
        else
            for tname in trusted_root.json signing_config.v0.2.json; do
                [ -s "$TUF_D/$tname" ] || bad+="$TUF_D/$tname missing; "
                # published as a target: listed in the newest N.targets.json, hashed file under targets/
                local tf h
                tf=$(cur_targets "$TUF_REPO")
                h=$(jq -r --arg n "$tname" '.signed.targets[$n].hashes.sha256 // empty' "$tf" 2>/dev/null)
                if [ -z "$h" ]; then
                    bad+="$tname not listed in $(basename "$tf"); "
                elif ! cmp -s "$TUF_REPO/targets/$h.$tname" "$TUF_D/$tname"; then
                    bad+="targets/$h.$tname differs from $TUF_D/$tname; "
                fi
            done
        fi
        if [ -z "$bad" ]; then
            TUF_TRUST_OK=1
            pass "$name"
        else
            fail "$name" "$bad"
        fi
    fi
    name="trusted_root.json (v0.1) and signing_config.v0.2.json match the running Fulcio, Rekor, CT log and OIDC"
    if tuf_need "$name" trust py; then
        "$PY" "$HERE/tuf_client.py" check-trust --trusted-root "$TUF_D/trusted_root.json" \
            --signing-config "$TUF_D/signing_config.v0.2.json" --fulcio-url "$FULCIO_URL" \
            --fulcio-chain "$F/rootCert.pem" --rekor-url "$URL" --rekor-pub "$WORK/log-pub.pem" \
            --ctlog-url "$CTLOG_URL" --ctlog-pub "$F/ctlog-pub.pem" --oidc-url "$OIDC_URL" >"$T/ct.out" 2>&1
        check "$name" $? "$(cat "$T/ct.out")"
    fi

    # --- serve ---------------------------------------------------------------------------
    name="tuf-root serve --dir (/healthz)"
    if tuf_need "$name" bin repo; then
        if tuf_serve TUF_SERVE_PID TUF_URL --dir "$TUF_D"; then
            pass "$name ($TUF_URL)"
        else
            fail "$name" "no /healthz within 60 s: $(tail -c 800 "$T"/serve-*.log 2>/dev/null)"
            TUF_SERVE_PID=""
        fi
    fi
    name="tuf-root serve: metadata and targets byte-exact, 404 for a missing N.root.json"
    if tuf_need "$name" serve trust; then
        local s1 s2 s3 h
        h=$(jq -r '.signed.targets["trusted_root.json"].hashes.sha256 // empty' "$(cur_targets "$TUF_REPO")" 2>/dev/null)
        s1=$("${CURL[@]}" -o "$T/g-root" -w '%{http_code}' "$TUF_URL/1.root.json")
        s2=$("${CURL[@]}" -o "$T/g-tr" -w '%{http_code}' "$TUF_URL/targets/$h.trusted_root.json")
        s3=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$TUF_URL/99.root.json")
        check "$name" "$([ "$s1" = 200 ] && cmp -s "$T/g-root" "$TUF_REPO/1.root.json" && [ "$s2" = 200 ] &&
            cmp -s "$T/g-tr" "$TUF_D/trusted_root.json" && [ "$s3" = 404 ] && echo 0 || echo 1)" \
            "1.root.json -> $s1 ($(cmp -s "$T/g-root" "$TUF_REPO/1.root.json" && echo same || echo different) bytes), targets/$h.trusted_root.json -> $s2, 99.root.json -> $s3 (want 404)"
    fi
    name="tuf-root verify --root 1.root.json --url (our own client accepts the served repository)"
    if tuf_need "$name" serve; then
        troot verify verify --root "$TUF_REPO/1.root.json" --url "$TUF_URL" --cache "$T/verify-cache"
        rc=$?
        check "$name" "$rc" "$(troot_err verify "$rc" verify)"
    fi

    # --- 3/4. generic TUF clients bootstrap from 1.root.json ------------------------------
    cp "$TUF_REPO/1.root.json" "$T/bootstrap-1.root.json" 2>/dev/null
    local ts_seen
    ts_seen=$(mver "$TUF_REPO/timestamp.json")
    cp "$TUF_REPO/timestamp.json" "$T/timestamp-seen.json" 2>/dev/null
    name="python-tuf $TUF_PY_VERSION ngclient: bootstrap 1.root.json, refresh, download trusted_root.json + signing_config.v0.2.json (bytes = tuf-root's)"
    if tuf_need "$name" serve trust py; then
        pyc py1 update --metadata-dir "$T/py/meta" --target-dir "$T/py/targets" --url "$TUF_URL" \
            --bootstrap "$T/bootstrap-1.root.json" --download trusted_root.json --download signing_config.v0.2.json
        rc=$?
        if [ "$rc" -eq 0 ] && msg=$(tuf_same_targets py1); then
            pass "$name"
        else
            fail "$name" "$(c_err py1 "$rc") ${msg:-}"
        fi
    fi
    name="tuf-js $TUF_JS_VERSION Updater: metadataDir seeded with 1.root.json, refresh, download both targets (bytes = tuf-root's)"
    if tuf_need "$name" serve trust js; then
        jsc js1 update --metadata-dir "$T/js/meta" --target-dir "$T/js/targets" --url "$TUF_URL" \
            --seed-root "$T/bootstrap-1.root.json" --download trusted_root.json,signing_config.v0.2.json
        rc=$?
        if [ "$rc" -eq 0 ] && msg=$(tuf_same_targets js1); then
            pass "$name"
        else
            fail "$name" "$(c_err js1 "$rc") ${msg:-}"
        fi
    fi

    # --- 5. root rotation (staged, then co-signed) and a forced timestamp -------------------
    # root 2 = {root1, root3}, threshold 2. rotate-root signs with root1 only: the old role
    # (root1 + root2, threshold 2) is short of one signature, so root 2 must stay staged;
    # sign-root with the encrypted root2 completes it and publishes 2.root.json.
    name="tuf-root rotate-root with 1 of 2 old root keys stages root 2 (2.root.json not published)"
    if tuf_need "$name" repo; then
        troot rotate rotate-root --dir "$TUF_D" --old-root-key "$T/keys/root1.pem" \
            --root-key "$T/keys/root1.pem" --root-key "$T/keys/root3.pem" --root-threshold 2
        rc=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ ! -e "$TUF_REPO/2.root.json" ] && echo 0 || echo 1)" \
            "$(troot_err rotate-root "$rc" rotate); 2.root.json $([ -e "$TUF_REPO/2.root.json" ] && echo "published with $(jq '.signatures|length' "$TUF_REPO/2.root.json") signatures" || echo absent)"
    fi
    name="tuf-root sign-root with the 2nd old key (encrypted) publishes root 2 (old and new thresholds met)"
    if tuf_need "$name" repo; then
        troot sign-root sign-root --dir "$TUF_D" --key "$T/keys/root2.pem"
        rc=$?
        bad=""
        [ "$rc" -eq 0 ] || bad+="$(troot_err sign-root "$rc" sign-root); "
        if [ ! -s "$TUF_REPO/2.root.json" ]; then
            bad+="2.root.json not published; "
        else
            [ "$(mver "$TUF_REPO/2.root.json")" = 2 ] || bad+="2.root.json version $(mver "$TUF_REPO/2.root.json"); "
            want_ids=$(printf '%s\n' "${KID[root1]:-}" "${KID[root3]:-}" | sort | tr '\n' ' ')
            got_ids=$(jq -r '.signed.roles.root.keyids[]' "$TUF_REPO/2.root.json" | sort | tr '\n' ' ')
            [ "$got_ids" = "$want_ids" ] || bad+="root 2 keyids '$got_ids' != root1+root3 '$want_ids'; "
            got_ids=$(jq -r '.signatures[].keyid' "$TUF_REPO/2.root.json" | sort -u | tr '\n' ' ')
            want_ids=$(printf '%s\n' "${KID[root1]:-}" "${KID[root2]:-}" "${KID[root3]:-}" | sort | tr '\n' ' ')
            [ "$got_ids" = "$want_ids" ] || bad+="root 2 signed by '$got_ids', want root1+root2+root3 '$want_ids'; "
            cmp -s "$TUF_REPO/root.json" "$TUF_REPO/2.root.json" || bad+="root.json is not 2.root.json; "
            cmp -s "$TUF_REPO/1.root.json" "$T/bootstrap-1.root.json" || bad+="1.root.json changed; "
        fi
        if [ -z "$bad" ]; then
            pass "$name"
        else
            fail "$name" "$bad"
        fi
    fi
    local ts_new="" ts_before
    name="tuf-root refresh --force bumps the timestamp"
    if tuf_need "$name" repo; then
        ts_before=$(mver "$TUF_REPO/timestamp.json")
        troot refresh refresh --dir "$TUF_D" --force
        rc=$?
        ts_new=$(mver "$TUF_REPO/timestamp.json")
        check "$name" "$([ "$rc" -eq 0 ] && [[ $ts_new =~ ^[0-9]+$ && $ts_before =~ ^[0-9]+$ ]] && [ "$ts_new" -gt "$ts_before" ] && echo 0 || echo 1)" \
            "$(troot_err "refresh --force" "$rc" refresh); timestamp version $ts_before -> $ts_new"
    fi
    name="python-tuf update from its own cache (no bootstrap): root 2 and the new timestamp"
    if tuf_need "$name" serve py && tuf_has_dir "$name" "$T/py/meta" "no python-tuf cache (see the python-tuf bootstrap case)"; then
        pyc py2 update --metadata-dir "$T/py/meta" --target-dir "$T/py/targets" --url "$TUF_URL" \
            --download trusted_root.json --download signing_config.v0.2.json
        rc=$?
        gr=$(jq -r '.root // empty' "$T/py2.json" 2>/dev/null)
        gt=$(jq -r '.timestamp // empty' "$T/py2.json" 2>/dev/null)
        check "$name" "$([ "$rc" -eq 0 ] && [ "$gr" = 2 ] && [ -n "$ts_new" ] && [ "$gt" = "$ts_new" ] && [ -s "$T/py/meta/root_history/2.root.json" ] && echo 0 || echo 1)" \
            "$(c_err py2 "$rc"); root $gr (want 2), timestamp $gt (want $ts_new)"
    fi
    name="tuf-js update from its own cache (no re-seed): root 2 and the new timestamp"
    if tuf_need "$name" serve js && tuf_has_dir "$name" "$T/js/meta/root.json" "no tuf-js cache (see the tuf-js bootstrap case)"; then
        jsc js2 update --metadata-dir "$T/js/meta" --target-dir "$T/js/targets" --url "$TUF_URL" \
            --download trusted_root.json,signing_config.v0.2.json
        rc=$?
        gr=$(jq -r '.root // empty' "$T/js2.json" 2>/dev/null)
        gt=$(jq -r '.timestamp // empty' "$T/js2.json" 2>/dev/null)
        check "$name" "$([ "$rc" -eq 0 ] && [ "$gr" = 2 ] && [ -n "$ts_new" ] && [ "$gt" = "$ts_new" ] && echo 0 || echo 1)" \
            "$(c_err js2 "$rc"); root $gr (want 2), timestamp $gt (want $ts_new)"
    fi

    # --- 6. sigstore-python over TUF ---------------------------------------------------------
    local H="$T/home-py"
    mkdir -p "$H"
    spy() { # OUTNAME ARGS...: sigstore CLI with an isolated HOME/XDG (its TUF cache and trust state)
        local out=$1
        shift
        HOME="$H" XDG_DATA_HOME="$H/.local/share" XDG_CACHE_HOME="$H/.cache" XDG_CONFIG_HOME="$H/.config" \
            timeout 180 "$VENV/bin/sigstore" "$@" >"$T/$out.out" 2>&1
    }
    echo "interop TUF artifact $(date +%s%N)" >"$T/artifact.txt"
    name="sigstore-python --instance URL trust-instance 1.root.json (walks to root 2)"
    if tuf_need "$name" serve trust; then
        spy spy-trust --instance "$TUF_URL" trust-instance "$T/bootstrap-1.root.json"
        rc=$?
        local sdir
        sdir=$(find "$H/.local/share" -name 2.root.json -path '*root_history*' 2>/dev/null | head -1)
        check "$name" "$([ "$rc" -eq 0 ] && [ -n "$sdir" ] && echo 0 || echo 1)" \
            "exit $rc: $(tail -c 1000 "$T/spy-trust.out"); root_history/2.root.json in the data dir: '${sdir:-none}'"
    fi
    name="sigstore-python --instance URL sign (signing config from TUF: our Fulcio, CT log, Rekor)"
    if tuf_need "$name" serve trust sigstore; then
        token=$(mint_token "$TUF_IDENTITY")
        spy spy-sign --instance "$TUF_URL" sign --identity-token "$token" --bundle "$T/artifact.sigstore.json" "$T/artifact.txt"
        rc=$?
        check "$name" "$([ "$rc" -eq 0 ] && [ -s "$T/artifact.sigstore.json" ] && echo 0 || echo 1)" \
            "exit $rc: $(tail -c 1200 "$T/spy-sign.out")"
    fi
    name="sigstore-python --instance URL verify identity (trusted root from TUF)"
    if tuf_need "$name" serve trust sigstore; then
        if [ ! -s "$T/artifact.sigstore.json" ]; then
            fail "$name" "no bundle from the sigstore-python sign case"
        else
            spy spy-verify --instance "$TUF_URL" verify identity --bundle "$T/artifact.sigstore.json" \
                --cert-identity "$TUF_IDENTITY" --cert-oidc-issuer "$OIDC_URL" "$T/artifact.txt"
            rc=$?
            check "$name" "$rc" "exit $rc: $(tail -c 1200 "$T/spy-verify.out")"
        fi
    fi
    # The bundle for sigstore-js and cosign: the one signed over TUF, else the fulcio section's.
    local B="$T/artifact.sigstore.json" A="$T/artifact.txt" Bsrc="sigstore-python over TUF"
    if [ ! -s "$B" ]; then
        B="$F/artifact.sigstore.json" A="$F/artifact.txt" Bsrc="the fulcio section's sigstore-python bundle"
    fi

    # --- 7. sigstore-js over TUF ---------------------------------------------------------------
    name="sigstore-js sigstore.verify({tufMirrorURL, tufRootPath: 1.root.json, tufCachePath}) of the sigstore-python bundle (root 2)"
    if tuf_need "$name" serve trust sjs sigstore; then
        if [ ! -s "$B" ]; then
            fail "$name" "no sigstore-python bundle to verify"
        else
            jsc sjs-verify sigstore-verify --mirror "$TUF_URL" --root "$T/bootstrap-1.root.json" --cache "$T/sjs-cache" \
                --bundle "$B" --artifact "$A" --identity "$TUF_IDENTITY" --issuer "$OIDC_URL"
            rc=$?
            # @sigstore/tuf caches under <cache>/<encodeURIComponent(host + path)>/
            gr=$(mver "$T/sjs-cache/$(printf '%s' "${TUF_URL#http://}" | sed 's/:/%3A/g')/root.json")
            check "$name" "$([ "$rc" -eq 0 ] && [ "$gr" = 2 ] && echo 0 || echo 1)" "($Bsrc) $(c_err sjs-verify "$rc"); cached root version '$gr' (want 2)"
        fi
    fi

    # --- 8. cosign over TUF --------------------------------------------------------------------
    local CT="$T/cosign-tuf"
    cos() { # OUTNAME ARGS...
        local out=$1
        shift
        HOME="$T/home-cosign" TUF_ROOT="$CT" timeout 180 "$COSIGN" "$@" >"$T/$out.out" 2>&1
    }
    name="cosign $COSIGN_VERSION initialize --mirror URL --root 1.root.json (go-tuf walks to root 2)"
    local cos_init=0
    if tuf_need "$name" serve trust cosign; then
        mkdir -p "$T/home-cosign"
        cos cos-init initialize --mirror "$TUF_URL" --root "$T/bootstrap-1.root.json"
        rc=$?
        [ "$rc" -eq 0 ] && cos_init=1
        # go-tuf walked the rotation (it counts root signatures by distinct key, not key id)
        gr=$(mver "$CT/$(printf '%s' "${TUF_URL#http://}" | tr ':/' '--')/root.json")
        check "$name" "$([ "$rc" -eq 0 ] && [ "$gr" = 2 ] && echo 0 || echo 1)" \
            "exit $rc: $(tail -c 1200 "$T/cos-init.out"); cached root version '$gr' (want 2) in $(ls "$CT" 2>/dev/null | tr '\n' ' ')"
    fi
    name="cosign $COSIGN_VERSION verify-blob --bundle (trusted root from our TUF mirror)"
    if tuf_need "$name" serve trust cosign sigstore; then
        if [ "$cos_init" != 1 ]; then
            fail "$name" "cosign initialize failed (see above)"
        elif [ ! -s "$B" ]; then
            fail "$name" "no sigstore-python bundle to verify"
        else
            cos cos-verify verify-blob --bundle "$B" --certificate-identity "$TUF_IDENTITY" \
                --certificate-oidc-issuer "$OIDC_URL" "$A"
            rc=$?
            check "$name" "$rc" "($Bsrc) exit $rc: $(tail -c 1200 "$T/cos-verify.out")"
        fi
    fi

    # cosign v3 signs with the signing config it got from TUF (--use-signing-config is the default):
    # the Fulcio, Rekor and (empty) TSA services of signing_config.v0.2.json, sigstore-go's selection.
    name="cosign $COSIGN_VERSION sign-blob (signing_config.v0.2.json from our TUF mirror: our Fulcio, CT log, Rekor)"
    if tuf_need "$name" serve trust cosign sigstore; then
        if [ "$cos_init" != 1 ]; then
            fail "$name" "cosign initialize failed (see above)"
        else
            echo "interop cosign artifact $(date +%s%N)" >"$T/artifact-cosign.txt"
            token=$(mint_token "$TUF_IDENTITY")
            cos cos-sign sign-blob --yes --identity-token "$token" --bundle "$T/artifact-cosign.sigstore.json" \
                "$T/artifact-cosign.txt"
            rc=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ -s "$T/artifact-cosign.sigstore.json" ] && echo 0 || echo 1)" \
                "exit $rc: $(tail -c 1200 "$T/cos-sign.out")"
        fi
    fi
    name="cosign $COSIGN_VERSION verify-blob of its own bundle, and sigstore-python --instance verifies it"
    if tuf_need "$name" serve trust cosign sigstore; then
        if [ ! -s "$T/artifact-cosign.sigstore.json" ]; then
            fail "$name" "no bundle from the cosign sign-blob case"
        else
            cos cos-verify2 verify-blob --bundle "$T/artifact-cosign.sigstore.json" --certificate-identity "$TUF_IDENTITY" \
                --certificate-oidc-issuer "$OIDC_URL" "$T/artifact-cosign.txt"
            rc=$?
            spy spy-verify-cosign --instance "$TUF_URL" verify identity --bundle "$T/artifact-cosign.sigstore.json" \
                --cert-identity "$TUF_IDENTITY" --cert-oidc-issuer "$OIDC_URL" "$T/artifact-cosign.txt"
            st=$?
            check "$name" "$([ "$rc" -eq 0 ] && [ "$st" -eq 0 ] && echo 0 || echo 1)" \
                "cosign verify-blob exit $rc: $(tail -c 600 "$T/cos-verify2.out"); sigstore-python verify exit $st: $(tail -c 600 "$T/spy-verify-cosign.out")"
        fi
    fi

    # --- 9. attacks against python-tuf on served copies -----------------------------------------
    # Each copy is the current repository with one change, served by `tuf-root serve --repository`.
    # The case PASSes when python-tuf refuses with the TUF error for that change (exit 3 +
    # the exception class), so a refusal for an unrelated reason (404, crash) is a FAIL.
    # Control: the unmodified copy updates fine.
    attack() { # NAME COPY EXPECTED-CLASSES(|-separated) CLIENT-ARGS...
        local aname=$1 copy=$2 want=$3 pid url cls
        shift 3
        tuf_need "$aname" bin trust py || return
        if ! tuf_serve pid url --repository "$copy"; then
            fail "$aname" "tuf-root serve --repository $copy: no /healthz: $(tail -c 600 "$T"/serve-*.log)"
            return
        fi
        TUF_PIDS+=("$pid")
        local out="atk-${copy##*/}"
        pyc "$out" update --url "$url" "$@"
        rc=$?
        cls=$(sed -n 's/^REFUSED \([A-Za-z]*\) .*/\1/p' "$T/$out.err" | head -1)
        if [ "$want" = accept ]; then
            check "$aname" "$rc" "$(c_err "$out" "$rc")"
        else
            check "$aname" "$([ "$rc" = 3 ] && [[ "|$want|" == *"|$cls|"* ]] && echo 0 || echo 1)" \
                "want exit 3 with $want; $(c_err "$out" "$rc")"
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    }
    if [ "$TUF_REPO_OK" = 1 ]; then
        local cpy
        for cpy in clean meta target rollback; do
            rm -rf "$T/copy-$cpy"
            cp -a "$TUF_REPO" "$T/copy-$cpy"
        done
        # (a) a hex digit of a target hash in the newest N.targets.json (same length): its hash
        #     no longer matches snapshot meta (or, without hashes there, its signature fails)
        local tf
        tf=$(cur_targets "$T/copy-meta")
        [ -f "$tf" ] && flip_hash_digit "$tf"
        # (b) one byte of the trusted_root.json target file (same length)
        local th
        th=$(jq -r '.signed.targets["trusted_root.json"].hashes.sha256 // empty' "$(cur_targets "$TUF_REPO")" 2>/dev/null)
        [ -n "$th" ] && [ -f "$T/copy-target/targets/$th.trusted_root.json" ] && flip_byte "$T/copy-target/targets/$th.trusted_root.json"
        # (c) the timestamp the clients saw before refresh --force, replayed after they saw the new one
        cp "$T/timestamp-seen.json" "$T/copy-rollback/timestamp.json"
    fi
    attack "attack control: python-tuf accepts the unmodified copy (tuf-root serve --repository)" \
        "$T/copy-clean" accept --metadata-dir "$T/atk-clean/meta" --target-dir "$T/atk-clean/t" \
        --bootstrap "$T/bootstrap-1.root.json" --download trusted_root.json
    attack "attack (a): N.targets.json modified (hash != snapshot meta) -> python-tuf refuses" \
        "$T/copy-meta" "LengthOrHashMismatchError|UnsignedMetadataError" --metadata-dir "$T/atk-meta/meta" \
        --target-dir "$T/atk-meta/t" --bootstrap "$T/bootstrap-1.root.json" --download trusted_root.json
    attack "attack (b): target file trusted_root.json modified -> python-tuf refuses the download" \
        "$T/copy-target" "LengthOrHashMismatchError" --metadata-dir "$T/atk-target/meta" \
        --target-dir "$T/atk-target/t" --bootstrap "$T/bootstrap-1.root.json" --download trusted_root.json
    name="attack (c): older timestamp.json (v$ts_seen) replayed after the client saw v$ts_new -> python-tuf refuses (rollback)"
    if [ -d "$T/py/meta" ] && [[ $ts_seen =~ ^[0-9]+$ && $ts_new =~ ^[0-9]+$ ]] && [ "$ts_new" -gt "$ts_seen" ]; then
        rm -rf "$T/atk-rollback"
        mkdir -p "$T/atk-rollback"
        cp -a "$T/py/meta" "$T/atk-rollback/meta"
        attack "$name" "$T/copy-rollback" "BadVersionNumberError" --metadata-dir "$T/atk-rollback/meta" \
            --target-dir "$T/atk-rollback/t"
    else
        fail "$name" "needs the python-tuf cache after refresh --force and two timestamp versions (seen '$ts_seen', new '$ts_new')"
    fi
    name="tuf-root verify refuses the copy with the modified N.targets.json"
    if tuf_need "$name" bin trust; then
        troot verify-bad verify --root "$T/bootstrap-1.root.json" --repository "$T/copy-meta" --cache "$T/verify-bad-cache"
        rc=$?
        check "$name" "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "exit 0: $(tail -c 600 "$T/verify-bad.out")"
    fi

    # --- 10. air gap: export, import, serve the imported copy --------------------------------------
    name="tuf-root export --out FILE.tar + import FILE.tar --out DIR (DIR/repository + DIR/root.json)"
    local imp_ok=0
    if tuf_need "$name" repo; then
        troot export export --dir "$TUF_D" --out "$T/bundle.tar"
        rc=$?
        bad=""
        if [ "$rc" -ne 0 ]; then
            bad="$(troot_err export "$rc" export)"
        elif ! tar -tf "$T/bundle.tar" >"$T/bundle.list" 2>&1; then
            bad="$T/bundle.tar is not a tar file: $(head -c 300 "$T/bundle.list")"
        else
            troot import import "$T/bundle.tar" --out "$T/imported"
            rc=$?
            if [ "$rc" -ne 0 ]; then
                bad="$(troot_err import "$rc" import)"
            else
                [ -s "$T/imported/root.json" ] || bad+="imported/root.json missing; "
                [ -s "$T/imported/repository/timestamp.json" ] || bad+="imported/repository/timestamp.json missing; "
                # every file, byte for byte (an empty directory need not travel)
                diff <(cd "$TUF_REPO" && find . -type f | sort) <(cd "$T/imported/repository" && find . -type f | sort) \
                    >"$T/imp.diff" 2>&1 || bad+="imported repository has other files: $(head -c 400 "$T/imp.diff"); "
                for f in $(cd "$TUF_REPO" && find . -type f); do
                    [ ! -e "$T/imported/repository/$f" ] || cmp -s "$TUF_REPO/$f" "$T/imported/repository/$f" || bad+="imported $f differs; "
                done
            fi
        fi
        if [ -z "$bad" ]; then
            imp_ok=1
            pass "$name (root.json = version $(mver "$T/imported/root.json"))"
        else
            fail "$name" "$bad"
        fi
    fi
    name="tuf-root export --out FILE (a bare file name in the working directory)"
    if tuf_need "$name" repo; then
        (cd "$T" && timeout 300 "$TUF_BIN" export --dir "$TUF_D" --out bundle-rel.tar) >"$T/export-rel.out" 2>&1
        rc=$?
        check "$name" "$([ "$rc" -eq 0 ] && cmp -s <(tar -tf "$T/bundle-rel.tar" 2>&1) <(tar -tf "$T/bundle.tar" 2>&1) && echo 0 || echo 1)" \
            "(cd \$T && tuf-root export --dir \$T/d --out bundle-rel.tar): exit $rc: $(tail -c 600 "$T/export-rel.out"); bundle-rel.tar $([ -s "$T/bundle-rel.tar" ] && echo "written, $(cmp -s <(tar -tf "$T/bundle-rel.tar" 2>&1) <(tar -tf "$T/bundle.tar" 2>&1) && echo "same files as" || echo "other files than") the absolute-path export" || echo absent)"
    fi
    name="python-tuf bootstraps from the imported root.json, downloads trusted_root.json from the served imported repository"
    if tuf_need "$name" bin trust py; then
        if [ "$imp_ok" != 1 ]; then
            fail "$name" "no imported bundle (see the export/import case)"
        else
            local ipid iurl
            if tuf_serve ipid iurl --repository "$T/imported/repository"; then
                TUF_PIDS+=("$ipid")
                pyc py-imp update --metadata-dir "$T/py-imp/meta" --target-dir "$T/py-imp/t" --url "$iurl" \
                    --bootstrap "$T/imported/root.json" --download trusted_root.json --download signing_config.v0.2.json
                rc=$?
                if [ "$rc" -eq 0 ] && msg=$(tuf_same_targets py-imp); then
                    pass "$name"
                else
                    fail "$name" "$(c_err py-imp "$rc") ${msg:-}"
                fi
            else
                fail "$name" "tuf-root serve --repository imported/repository: no /healthz: $(tail -c 600 "$T"/serve-*.log)"
            fi
        fi
    fi
}

tuf_section
tuf_cleanup
