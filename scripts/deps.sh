#!/usr/bin/env bash
# Installs the system packages the build needs (Debian). Idempotent and quiet
# when everything is present: CI runs it on every clean clone.
#   libclang-dev: bindgen for librocksdb-sys (RocksDB is built from source once
#                 and cached in CARGO_TARGET_DIR, outside the clone).
#   softhsm2:     PKCS#11 token for fulcio's pkcs11ca tests (fulcio/tests/pkcs11.rs).
#   certspotter:  CT log monitor, an interop peer of our ctlog-server (pinned;
#                 scripts/interop/fulcio.sh). Not needed by the build, so a failed
#                 install does not stop this script: the interop case reports it as
#                 a FAIL with the apt error kept in $CACHE/logs/certspotter-install.log.
#   docker-registry, skopeo: the OCI registry (distribution 2.8) and containers/image
#                 client of the image interop cases (pinned; scripts/interop/images.sh),
#                 installed and reported the same way.
set -euo pipefail
CERTSPOTTER_DEB_VERSION=0.16.0-1   # Debian bookworm's; keep in sync with scripts/interop/fulcio.sh
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
for p in libclang-dev clang openssl curl softhsm2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Pinned interop peers: a failed install is reported by the interop case, not here.
DOCKER_REGISTRY_DEB_VERSION=2.8.2+ds1-1   # keep in sync with scripts/interop/images.sh
SKOPEO_DEB_VERSION=1.9.3+ds1-1+b10       # keep in sync with scripts/interop/images.sh
for pin in "certspotter=$CERTSPOTTER_DEB_VERSION" "docker-registry=$DOCKER_REGISTRY_DEB_VERSION" \
  "skopeo=$SKOPEO_DEB_VERSION"; do
  pkg=${pin%%=*}
  [ "$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)" = "${pin#*=}" ] && continue
  echo "deps: installing $pin"
  log="${SIGSTACK_CACHE:-$HOME/.cache/sigstack}/logs/$pkg-install.log"
  mkdir -p "$(dirname "$log")"
  if { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pin"; } >"$log" 2>&1; then
    rm -f "$log"
  else
    echo "deps: $pkg install failed (interop reports it): $(tail -2 "$log")" >&2
  fi
done
