#!/usr/bin/env bash
# Runs every test: type-check, lint, unit, integration and end-to-end (real NATS, moto, the Key
# Vault emulator, Prometheus' promtool), after provisioning whatever is missing. This is the
# README's test command and what CI runs.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bootstrap.sh
source "$repo/scripts/bootstrap.sh"
cd "$repo"
exec "$CREDMESH_NPM" test "$@"
