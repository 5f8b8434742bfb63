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
if [ "$(dpkg-query -W -f='${Version}' certspotter 2>/dev/null)" != "$CERTSPOTTER_DEB_VERSION" ]; then
  echo "deps: installing certspotter=$CERTSPOTTER_DEB_VERSION"
  log="${SIGSTACK_CACHE:-$HOME/.cache/sigstack}/logs/certspotter-install.log"
  mkdir -p "$(dirname "$log")"
  if { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "certspotter=$CERTSPOTTER_DEB_VERSION"; } >"$log" 2>&1; then
    rm -f "$log"
  else
    echo "deps: certspotter install failed (interop reports it): $(tail -2 "$log")" >&2
  fi
fi
