#!/usr/bin/env bash
# Installs the system packages the build needs (Debian). Idempotent and quiet
# when everything is present: CI runs it on every clean clone.
#   libclang-dev: bindgen for librocksdb-sys (RocksDB is built from source once
#                 and cached in CARGO_TARGET_DIR, outside the clone).
set -euo pipefail
need=()
for p in libclang-dev clang openssl curl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
