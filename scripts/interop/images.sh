# Image interop cases (issue 7), sourced by scripts/interop/stack.sh and run while the stack is
# up (its Rekor, Fulcio, dev issuer and trust files): a real registry (Debian's docker-registry,
# distribution 2.8, which has no referrers API, so both clients write and read the tag-schema
# fallback index), a test image built here as an OCI layout and pushed with skopeo, then our
# cosign and Go cosign sign the image (with a key and keyless) and each verifies the other's
# signatures, plus the refusals.
#
# Uses from stack.sh/interop.sh: S, STK_ENV, ISS, COSIGN, COSIGN_VERSION, BIN_DIR, CURL,
# pass/fail/check, stk_need, stk_cos, stk_ours, stk_out, stk_dev_token, stk_token_file.

DOCKER_REGISTRY_DEB_VERSION=2.8.2+ds1-1 # keep in sync with scripts/deps.sh
SKOPEO_DEB_VERSION=1.9.3+ds1-1+b10      # keep in sync with scripts/deps.sh
IMG_REG_PID=""
IMG_AUTH_PID=""

images_cleanup() {
    local p
    for p in $IMG_REG_PID $IMG_AUTH_PID; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    IMG_REG_PID=""
    IMG_AUTH_PID=""
}

# img_installed PKG VERSION: PASS, or FAIL with the apt error that scripts/deps.sh kept.
img_installed() {
    local pkg=$1 want=$2 have
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)
    if [ "$have" = "$want" ]; then
        pass "images: $pkg $want installed (Debian)"
        return 0
    fi
    fail "images: $pkg $want installed (Debian)" "installed: '${have:-none}'$(
        [ -s "$CACHE/logs/$pkg-install.log" ] && printf '; apt: %s' "$(tail -3 "$CACHE/logs/$pkg-install.log")")"
    return 1
}

# img_build DIR TAG CONTENT: an OCI image layout with one tiny layer (tar.gz of one file).
img_build() {
    local d=$1 tag=$2 content=$3 cfg layer man
    mkdir -p "$d/src" "$d/layout/blobs/sha256"
    printf '%s\n' "$content" >"$d/src/hello.txt"
    tar -C "$d/src" --mtime=@0 --owner=0 --group=0 -cf "$d/layer.tar" hello.txt
    gzip -n -f "$d/layer.tar"
    layer=$(sha256sum "$d/layer.tar.gz" | cut -d' ' -f1)
    cp "$d/layer.tar.gz" "$d/layout/blobs/sha256/$layer"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{}}' \
        "$(gzip -dc "$d/layer.tar.gz" | sha256sum | cut -d' ' -f1)" >"$d/config.json"
    cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    cp "$d/config.json" "$d/layout/blobs/sha256/$cfg"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
        "$cfg" "$(stat -c%s "$d/config.json")" "$layer" "$(stat -c%s "$d/layer.tar.gz")" >"$d/manifest.json"
    man=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
    cp "$d/manifest.json" "$d/layout/blobs/sha256/$man"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$d/layout/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
        "$man" "$(stat -c%s "$d/manifest.json")" "$tag" >"$d/layout/index.json"
    echo "sha256:$man"
}

# img_build_index DIR TAG: an OCI layout holding an image index of two one-layer images
# (linux/amd64, linux/arm64); prints the index digest.
img_build_index() {
    local d=$1 tag=$2 arch sub man entries="" idx
    mkdir -p "$d/layout/blobs/sha256"
    for arch in amd64 arm64; do
        sub="$d/$arch"
        img_build "$sub" "$tag" "multi $arch $RANDOM" >/dev/null
        cp "$sub"/layout/blobs/sha256/* "$d/layout/blobs/sha256/"
        man=$(sha256sum "$sub/manifest.json" | cut -d' ' -f1)
        entries+="${entries:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$man\",\"size\":$(stat -c%s "$sub/manifest.json"),\"platform\":{\"os\":\"linux\",\"architecture\":\"$arch\"}}"
    done
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$d/index-manifest.json"
    idx=$(sha256sum "$d/index-manifest.json" | cut -d' ' -f1)
    cp "$d/index-manifest.json" "$d/layout/blobs/sha256/$idx"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$d/layout/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
        "$idx" "$(stat -c%s "$d/index-manifest.json")" "$tag" >"$d/layout/index.json"
    echo "sha256:$idx"
}

images_cases() {
    local name I="$S/images" port reg_ok=0 ok_sk=0
    mkdir -p "$I"
    img_installed docker-registry "$DOCKER_REGISTRY_DEB_VERSION" && reg_ok=1
    img_installed skopeo "$SKOPEO_DEB_VERSION" && ok_sk=1

    name="images: docker-registry (distribution 2.8) on loopback, and skopeo copies eight test images built here into it"
    local IMG_A="" IMG_B="" IMG_U="" IMG_C="" IMG_D="" IMG_E="" IMG_F="" IMG_G="" REG=""
    if [ "$reg_ok$ok_sk" = 11 ]; then
        port=$(stk_ports 1)
        printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
            "$I/registry-data" "$port" >"$I/registry.yml"
        docker-registry serve "$I/registry.yml" >"$I/registry.log" 2>&1 &
        IMG_REG_PID=$!
        if wait_healthy "http://127.0.0.1:$port/v2/" "$IMG_REG_PID"; then
            local d bad=""
            REG=127.0.0.1:$port
            for d in a b u c d e f g; do
                local dig
                dig=$(img_build "$I/img-$d" v1 "image $d $RANDOM")
                skopeo copy --quiet --dest-tls-verify=false "oci:$I/img-$d/layout:v1" "docker://$REG/demo/$d:v1" \
                    >"$I/skopeo-$d.out" 2>&1 || bad+="skopeo copy $d: $(tail -c 300 "$I/skopeo-$d.out"); "
                case $d in
                a) IMG_A="$REG/demo/a@$dig" ;; b) IMG_B="$REG/demo/b@$dig" ;; u) IMG_U="$REG/demo/u@$dig" ;;
                c) IMG_C="$REG/demo/c@$dig" ;; d) IMG_D="$REG/demo/d@$dig" ;; e) IMG_E="$REG/demo/e@$dig" ;; f) IMG_F="$REG/demo/f@$dig" ;; g) IMG_G="$REG/demo/g@$dig" ;;
                esac
            done
            # The registry serves exactly the manifest built here.
            "${CURL[@]}" -f -H 'Accept: application/vnd.oci.image.manifest.v1+json' -o "$I/a.manifest" \
                "http://$REG/v2/demo/a/manifests/v1" 2>>"$I/curl.err" || bad+="GET manifest failed; "
            [ "sha256:$(sha256sum "$I/a.manifest" 2>/dev/null | cut -d' ' -f1)" = "${IMG_A#*@}" ] || bad+="digest of demo/a:v1 differs; "
            check "$name" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
        else
            fail "$name" "docker-registry did not answer /v2/: $(tail -c 400 "$I/registry.log")"
        fi
    else
        fail "$name" "docker-registry or skopeo not installed (see above)"
    fi
    img_ready() { [ -n "$IMG_A" ] && [ -n "$IMG_B" ] && [ -n "$IMG_U" ] && [ -n "$IMG_C" ] && [ -n "$IMG_D" ] && [ -n "$IMG_E" ] && [ -n "$IMG_F" ] && [ -n "$IMG_G" ] || { fail "$1" "no test images (see the registry case)"; return 1; }; }

    local TR=${STK_ENV[SIGSTACK_TRUSTED_ROOT]} SC=${STK_ENV[SIGSTACK_SIGNING_CONFIG]}

    # --- with keys, each entry in our Rekor --------------------------------------------------
    name="images: our cosign sign --key (bundle referrer + Rekor entry) -> cosign $COSIGN_VERSION verify --key and ours; -a checked"
    if stk_need "$name" up ours cosign && img_ready "$name"; then
        rm -f "$I/ik.key" "$I/ik.pub"
        (cd "$I" && COSIGN_PASSWORD=ip "$BIN_DIR/cosign" generate-key-pair --output-key-prefix ik >"$I/ikgen.out" 2>&1)
        COSIGN_PASSWORD=ip stk_ours img-ksign sign --key "$I/ik.key" --signing-config "$SC" -a team=blue "$IMG_A"
        local k1=$? k2 k3 k4
        stk_cos files img-ksign-goverify verify --key "$I/ik.pub" --trusted-root "$TR" -a team=blue "$IMG_A"
        k2=$?
        stk_ours img-ksign-verify verify --key "$I/ik.pub" --trusted-root "$TR" -a team=blue "$IMG_A"
        k3=$?
        stk_ours img-ksign-wrongann verify --key "$I/ik.pub" --trusted-root "$TR" -a team=red "$IMG_A"
        k4=$?
        check "$name" "$([ "$k1$k2$k3" = 000 ] && [ "$k4" = 1 ] && grep -q 'missing or incorrect annotation' "$S/img-ksign-wrongann.out" && echo 0 || echo 1)" \
            "our sign: $(stk_out img-ksign "$k1" 300); Go verify: $(stk_out img-ksign-goverify "$k2" 300); our verify: $(stk_out img-ksign-verify "$k3" 300); -a team=red (want 1): $(stk_out img-ksign-wrongann "$k4" 200)"
    fi

    name="images: cosign $COSIGN_VERSION sign --key -> our cosign verify --key; another key refused"
    if stk_need "$name" up ours cosign && img_ready "$name"; then
        rm -f "$I/gk.key" "$I/gk.pub"
        (cd "$I" && COSIGN_PASSWORD=gp HOME="$S/home-cos-files" timeout 60 "$COSIGN" generate-key-pair --output-key-prefix gk >"$I/gkgen.out" 2>&1)
        COSIGN_PASSWORD=gp stk_cos files img-gsign sign -y --key "$I/gk.key" --signing-config "$SC" --trusted-root "$TR" "$IMG_B"
        local g1=$? g2 g3
        stk_ours img-gsign-verify verify --key "$I/gk.pub" --trusted-root "$TR" "$IMG_B"
        g2=$?
        stk_ours img-gsign-otherkey verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_B"
        g3=$?
        check "$name" "$([ "$g1$g2" = 00 ] && [ "$g3" = 1 ] && grep -q 'no matching signatures' "$S/img-gsign-otherkey.out" && echo 0 || echo 1)" \
            "Go sign: $(stk_out img-gsign "$g1" 300); our verify: $(stk_out img-gsign-verify "$g2" 300); other key (want 1): $(stk_out img-gsign-otherkey "$g3" 200)"
    fi

    # --- keyless: Fulcio certificate, Rekor entry ----------------------------------------------
    name="images: keyless both ways: our cosign sign -> cosign $COSIGN_VERSION verify, cosign sign -> ours; wrong identity refused"
    if stk_need "$name" up ours cosign && img_ready "$name"; then
        local ID_IO=ivan@example.com ID_IG=judy@example.com l1 l2 l3 l4 l5
        stk_token_file "$I/tok-ours" "$(stk_dev_token "$ID_IO")"
        stk_token_file "$I/tok-go" "$(stk_dev_token "$ID_IG")"
        stk_ours img-lsign sign --identity-token "$I/tok-ours" --signing-config "$SC" --trusted-root "$TR" "$IMG_A"
        l1=$?
        stk_cos files img-lsign-goverify verify --trusted-root "$TR" --certificate-identity "$ID_IO" \
            --certificate-oidc-issuer "$ISS" "$IMG_A"
        l2=$?
        stk_cos files img-lgsign sign -y --identity-token "$I/tok-go" --signing-config "$SC" --trusted-root "$TR" "$IMG_B"
        l3=$?
        stk_ours img-lgsign-verify verify --trusted-root "$TR" --certificate-identity "$ID_IG" \
            --certificate-oidc-issuer "$ISS" "$IMG_B"
        l4=$?
        stk_ours img-lgsign-wrongid verify --trusted-root "$TR" --certificate-identity mallory@example.com \
            --certificate-oidc-issuer "$ISS" "$IMG_B"
        l5=$?
        check "$name" "$([ "$l1$l2$l3$l4" = 0000 ] && [ "$l5" = 1 ] && grep -q 'no matching signatures' "$S/img-lgsign-wrongid.out" && echo 0 || echo 1)" \
            "our sign: $(stk_out img-lsign "$l1" 300); Go verify: $(stk_out img-lsign-goverify "$l2" 300); Go sign: $(stk_out img-lgsign "$l3" 300); our verify: $(stk_out img-lgsign-verify "$l4" 300); wrong identity (want 1): $(stk_out img-lgsign-wrongid "$l5" 200)"
    fi

    name="images: attestations both ways (openvex predicate, keys, Rekor): our cosign attest -> cosign $COSIGN_VERSION verify-attestation --type openvex, cosign attest -> ours; the default --type custom refused"
    if stk_need "$name" up ours cosign && img_ready "$name" && [ -s "$I/ik.pub" ] && [ -s "$I/gk.pub" ]; then
        local t1 t2 t3 t4 t5
        printf '{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex-1","author":"interop","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[]}' >"$I/vex.json"
        COSIGN_PASSWORD=ip stk_ours img-attest attest --key "$I/ik.key" --signing-config "$SC" --type openvex --predicate "$I/vex.json" "$IMG_F"
        t1=$?
        stk_cos files img-attest-goverify verify-attestation --key "$I/ik.pub" --trusted-root "$TR" --type openvex "$IMG_F"
        t2=$?
        COSIGN_PASSWORD=gp stk_cos files img-gattest attest -y --key "$I/gk.key" --signing-config "$SC" --trusted-root "$TR" \
            --type openvex --predicate "$I/vex.json" "$IMG_F"
        t3=$?
        stk_ours img-gattest-verify verify-attestation --key "$I/gk.pub" --trusted-root "$TR" --type openvex "$IMG_F"
        t4=$?
        stk_ours img-gattest-custom verify-attestation --key "$I/gk.pub" --trusted-root "$TR" "$IMG_F"
        t5=$?
        check "$name" "$([ "$t1$t2$t3$t4" = 0000 ] && [ "$t5" = 1 ] && grep -q 'none of the attestations matched' "$S/img-gattest-custom.out" && echo 0 || echo 1)" \
            "our attest: $(stk_out img-attest "$t1" 300); Go verify: $(stk_out img-attest-goverify "$t2" 300); Go attest: $(stk_out img-gattest "$t3" 300); our verify: $(stk_out img-gattest-verify "$t4" 300); --type custom (want 1): $(stk_out img-gattest-custom "$t5" 200)"
    fi

    name="images: an image nobody signed: our cosign verify and cosign $COSIGN_VERSION verify both refuse with exit 10"
    if stk_need "$name" up ours cosign && img_ready "$name"; then
        stk_ours img-unsigned verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_U"
        local u1=$? u2
        stk_cos files img-unsigned-go verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_U"
        u2=$?
        check "$name" "$([ "$u1" = 10 ] && [ "$u2" = 10 ] && grep -q 'no signatures found' "$S/img-unsigned.out" && echo 0 || echo 1)" \
            "ours (want exit 10, as Go): $(stk_out img-unsigned "$u1" 200); Go (want 10): $(stk_out img-unsigned-go "$u2" 200)"
    fi
    # --- the legacy .sig format (simple signing layers with annotations) -------------------------
    # What containers/image reads with use-sigstore-attachments. Debian's skopeo 1.9.3 is built with
    # sigstore disabled ("Debian-local change: sigstore disabled"), and the Go proxy here does not
    # serve github.com/containers/skopeo, so the skopeo policy cases of issue 7 cannot run on this
    # machine; Go cosign checks the format instead, both ways, logged and unlogged.
    name="images: legacy .sig both ways: our cosign sign --new-bundle-format=false --key (Rekor bundle annotation) -> cosign $COSIGN_VERSION verify; cosign legacy signatures (logged, and unlogged as skopeo writes them) -> ours"
    if stk_need "$name" up ours cosign && img_ready "$name" && [ -s "$I/ik.pub" ] && [ -s "$I/gk.pub" ]; then
        local s1 s2 s3 s4 s5 s6 s7
        COSIGN_PASSWORD=ip stk_ours img-legsign sign --new-bundle-format=false --key "$I/ik.key" --signing-config "$SC" "$IMG_C"
        s1=$?
        stk_cos files img-legsign-goverify verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_C"
        s2=$?
        stk_ours img-legsign-verify verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_C"
        s3=$?
        COSIGN_PASSWORD=gp stk_cos files img-glegsign sign -y --new-bundle-format=false --key "$I/gk.key" \
            --use-signing-config=false --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" "$IMG_D"
        s4=$?
        stk_ours img-glegsign-verify verify --key "$I/gk.pub" --trusted-root "$TR" "$IMG_D"
        s5=$?
        COSIGN_PASSWORD=gp stk_cos files img-gunlogged sign -y --new-bundle-format=false --key "$I/gk.key" \
            --use-signing-config=false --tlog-upload=false "$IMG_E"
        s6=$?
        stk_ours img-gunlogged-verify verify --key "$I/gk.pub" --insecure-ignore-tlog=true "$IMG_E"
        s7=$?
        check "$name" "$([ "$s1$s2$s3$s4$s5$s6$s7" = 0000000 ] && grep -q 'cosign container image signature' "$S/img-legsign-verify.out" && echo 0 || echo 1)" \
            "our sign: $(stk_out img-legsign "$s1" 300); Go verify: $(stk_out img-legsign-goverify "$s2" 200); our verify: $(stk_out img-legsign-verify "$s3" 200); Go legacy sign: $(stk_out img-glegsign "$s4" 200); our verify: $(stk_out img-glegsign-verify "$s5" 200); Go unlogged sign: $(stk_out img-gunlogged "$s6" 200); our verify: $(stk_out img-gunlogged-verify "$s7" 200)"
    fi

    name="images: a multi-arch index (skopeo copy --all): our cosign sign -r signs the index and both images; cosign $COSIGN_VERSION verifies each"
    if stk_need "$name" up ours cosign && img_ready "$name" && [ -s "$I/ik.key" ]; then
        local idig m1 m2 r1 r2 r3 r4 r5
        idig=$(img_build_index "$I/img-multi" v1)
        skopeo copy --quiet --all --dest-tls-verify=false "oci:$I/img-multi/layout:v1" "docker://$REG/demo/multi:v1" \
            >"$S/img-multi-push.out" 2>&1
        r1=$?
        m1="sha256:$(sha256sum "$I/img-multi/amd64/manifest.json" | cut -d' ' -f1)"
        m2="sha256:$(sha256sum "$I/img-multi/arm64/manifest.json" | cut -d' ' -f1)"
        COSIGN_PASSWORD=ip stk_ours img-multi-sign sign -r --key "$I/ik.key" --signing-config "$SC" "$REG/demo/multi@$idig"
        r2=$?
        stk_cos files img-multi-v1 verify --key "$I/ik.pub" --trusted-root "$TR" "$REG/demo/multi@$idig"
        r3=$?
        stk_cos files img-multi-v2 verify --key "$I/ik.pub" --trusted-root "$TR" "$REG/demo/multi@$m1"
        r4=$?
        stk_cos files img-multi-v3 verify --key "$I/ik.pub" --trusted-root "$TR" "$REG/demo/multi@$m2"
        r5=$?
        check "$name" "$([ "$r1$r2$r3$r4$r5" = 00000 ] && echo 0 || echo 1)" \
            "skopeo --all: $(stk_out img-multi-push "$r1" 200); our sign -r: $(stk_out img-multi-sign "$r2" 300); Go verify index: $(stk_out img-multi-v1 "$r3" 200); amd64: $(stk_out img-multi-v2 "$r4" 200); arm64: $(stk_out img-multi-v3 "$r5" 200)"
    fi

    name="images: keyless legacy .sig both ways (certificate + chain annotations): our cosign sign --new-bundle-format=false -> cosign $COSIGN_VERSION verify --certificate-identity, cosign's -> ours"
    if stk_need "$name" up ours cosign && img_ready "$name"; then
        local w1 w2 w3 w4 ID_LO=leo@example.com ID_LG=mia@example.com
        stk_token_file "$I/tok-lo" "$(stk_dev_token "$ID_LO")"
        stk_token_file "$I/tok-lg" "$(stk_dev_token "$ID_LG")"
        stk_ours img-klsign sign --new-bundle-format=false --identity-token "$I/tok-lo" --signing-config "$SC" \
            --trusted-root "$TR" "$IMG_G"
        w1=$?
        stk_cos files img-klsign-goverify verify --trusted-root "$TR" --certificate-identity "$ID_LO" \
            --certificate-oidc-issuer "$ISS" "$IMG_G"
        w2=$?
        # Go's legacy keyless path checks the new certificate's SCT with the legacy trust inputs.
        SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="$STK_STATE/ctlog/ctlog.pub.pem" SIGSTORE_ROOT_FILE="$STK_STATE/fulcio/ca/chain.pem" \
            stk_cos files img-kgsign sign -y --new-bundle-format=false --identity-token "$I/tok-lg" --use-signing-config=false \
            --fulcio-url "${STK_ENV[SIGSTACK_FULCIO_URL]}" --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" "$IMG_G"
        w3=$?
        stk_ours img-kgsign-verify verify --trusted-root "$TR" --certificate-identity "$ID_LG" --certificate-oidc-issuer "$ISS" "$IMG_G"
        w4=$?
        check "$name" "$([ "$w1$w2$w3$w4" = 0000 ] && echo 0 || echo 1)" \
            "our sign: $(stk_out img-klsign "$w1" 300); Go verify: $(stk_out img-klsign-goverify "$w2" 300); Go sign: $(stk_out img-kgsign "$w3" 300); our verify: $(stk_out img-kgsign-verify "$w4" 300)"
    fi

    name="images: legacy .att attestations both ways: our cosign attest --new-bundle-format=false --key -> cosign $COSIGN_VERSION verify-attestation; cosign's -> ours"
    if stk_need "$name" up ours cosign && img_ready "$name" && [ -s "$I/ik.key" ] && [ -s "$I/gk.key" ]; then
        local v1 v2 v3 v4
        printf 'legacy attestation data\n' >"$I/latt.txt"
        COSIGN_PASSWORD=ip stk_ours img-latt attest --new-bundle-format=false --key "$I/ik.key" --signing-config "$SC" \
            --predicate "$I/latt.txt" "$IMG_C"
        v1=$?
        stk_cos files img-latt-goverify verify-attestation --key "$I/ik.pub" --trusted-root "$TR" "$IMG_C"
        v2=$?
        COSIGN_PASSWORD=gp stk_cos files img-glatt attest -y --new-bundle-format=false --key "$I/gk.key" \
            --use-signing-config=false --rekor-url "${STK_ENV[SIGSTACK_REKOR_URL]}" --predicate "$I/latt.txt" "$IMG_D"
        v3=$?
        stk_ours img-glatt-verify verify-attestation --key "$I/gk.pub" --trusted-root "$TR" "$IMG_D"
        v4=$?
        check "$name" "$([ "$v1$v2$v3$v4" = 0000 ] && echo 0 || echo 1)" \
            "our attest: $(stk_out img-latt "$v1" 300); Go verify: $(stk_out img-latt-goverify "$v2" 300); Go attest: $(stk_out img-glatt "$v3" 300); our verify: $(stk_out img-glatt-verify "$v4" 300)"
    fi

    # The SoftHSM2 token the stack section's PKCS#11 case created (its key "signer").
    name="images: our cosign sign --key pkcs11: (SoftHSM2 token, Rekor entry) -> cosign $COSIGN_VERSION verify --key <our public-key output>"
    if stk_need "$name" up ours cosign file:$S/hsm/hsm.pub:"the PKCS#11 case's public key" && img_ready "$name"; then
        local h1 h2 HURI="pkcs11:token=cosign-interop;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so"
        SOFTHSM2_CONF="$S/hsm/softhsm2.conf" COSIGN_PKCS11_PIN=2324 stk_ours img-hsm-sign sign --key "$HURI" \
            --signing-config "$SC" "$IMG_U"
        h1=$?
        stk_cos files img-hsm-goverify verify --key "$S/hsm/hsm.pub" --trusted-root "$TR" "$IMG_U"
        h2=$?
        check "$name" "$([ "$h1$h2" = 00 ] && echo 0 || echo 1)" \
            "our sign: $(stk_out img-hsm-sign "$h1" 300); Go verify: $(stk_out img-hsm-goverify "$h2" 300)"
    fi

    # --- a registry that wants credentials (htpasswd, Basic) and allows deletes ------------------
    name="images: a registry with htpasswd auth: refused without credentials, our cosign login writes config.json, sign works, cosign $COSIGN_VERSION verifies with it; our cosign clean removes the signature"
    if [ "$reg_ok$ok_sk" = 11 ] && stk_need "$name" up ours cosign && [ -s "$I/ik.key" ]; then
        local aport A a0 a1 a2 a3 a4 a5 a6 dig
        aport=$(stk_ports 1)
        A=127.0.0.1:$aport
        python3 -W ignore -c 'import crypt,sys; print("alice:" + crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
            's3cret' >"$I/htpasswd" 2>"$I/htpasswd.err"
        printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\nauth:\n  htpasswd:\n    realm: sigstack-interop\n    path: %s\n' \
            "$I/auth-registry-data" "$A" "$I/htpasswd" >"$I/auth-registry.yml"
        docker-registry serve "$I/auth-registry.yml" >"$I/auth-registry.log" 2>&1 &
        IMG_AUTH_PID=$!
        # /v2/ answers 401 when it is up.
        for i in $(seq 100); do
            [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "http://$A/v2/" 2>/dev/null)" = 401 ] && break
            sleep 0.1
        done
        dig=$(img_build "$I/img-auth" v1 "image auth $RANDOM")
        skopeo copy --quiet --dest-tls-verify=false --dest-creds alice:s3cret "oci:$I/img-auth/layout:v1" "docker://$A/demo/auth:v1" \
            >"$S/img-auth-push.out" 2>&1
        a0=$?
        local IMG_AUTH="$A/demo/auth@$dig"
        rm -rf "$S/home-ours/.docker"
        COSIGN_PASSWORD=ip stk_ours img-auth-nologin sign --key "$I/ik.key" --signing-config "$SC" "$IMG_AUTH"
        a1=$?
        printf 's3cret\n' | stk_ours img-auth-login login "$A" -u alice --password-stdin
        a2=$?
        COSIGN_PASSWORD=ip stk_ours img-auth-sign sign --key "$I/ik.key" --signing-config "$SC" "$IMG_AUTH"
        a3=$?
        DOCKER_CONFIG="$S/home-ours/.docker" stk_cos files img-auth-goverify verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_AUTH"
        a4=$?
        stk_ours img-auth-clean clean -f --type all "$IMG_AUTH"
        a5=$?
        stk_ours img-auth-after verify --key "$I/ik.pub" --trusted-root "$TR" "$IMG_AUTH"
        a6=$?
        check "$name" "$([ "$a0$a2$a3$a4$a5" = 00000 ] && [ "$a1" = 1 ] && grep -q '401' "$S/img-auth-nologin.out" &&
            [ "$(stat -c %a "$S/home-ours/.docker/config.json" 2>/dev/null)" = 600 ] && [ "$a6" = 10 ] && echo 0 || echo 1)" \
            "skopeo push: $(stk_out img-auth-push "$a0" 200); no login (want 1, 401): $(stk_out img-auth-nologin "$a1" 200); login: $(stk_out img-auth-login "$a2" 200); our sign: $(stk_out img-auth-sign "$a3" 200); Go verify: $(stk_out img-auth-goverify "$a4" 200); clean: $(stk_out img-auth-clean "$a5" 200); verify after clean (want 10): $(stk_out img-auth-after "$a6" 200)"
    fi

    images_cleanup
}
