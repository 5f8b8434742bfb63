#!/usr/bin/env bash
# Print an ID token from the development OIDC issuer of scripts/up.sh.
#   scripts/dev-token.sh you@example.com     # a person (e-mail identity)
#   scripts/dev-token.sh --workload ci-job   # a workload (URI subject <issuer>/workloads/ci-job)
# Uses $SIGSTACK_OIDC_ISSUER (from <state>/env) or http://127.0.0.1:8085.
set -euo pipefail
ISSUER=${SIGSTACK_OIDC_ISSUER:-http://127.0.0.1:8085}
if [ "${1:-}" = --workload ]; then
    body=$(curl -fsS --max-time 10 -d grant_type=client_credentials --data-urlencode "client_id=${2:?client id}" "$ISSUER/token")
else
    body=$(curl -fsS --max-time 10 -d grant_type=password -d client_id=sigstore \
        --data-urlencode "username=${1:-dev@example.com}" -d password=x "$ISSUER/token")
fi
printf '%s\n' "$body" | sed -n 's/.*"id_token":"\([^"]*\)".*/\1/p'
