#!/usr/bin/env bash
# Makes a checkout runnable: provisions the pinned third-party parts (scripts/provision.sh) and
# installs the npm workspaces with the pinned Node, reinstalling only when package-lock.json
# changed. Sourced by scripts/test.sh and scripts/credmesh, so both work on a fresh machine.
set -euo pipefail

# Machines behind a TLS-inspecting proxy trust its CA through the system bundle; npm and the
# provisioned Node ship their own CA list, so point them at the system one when nobody else did.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${CREDMESH_TOOLS_DIR:-$HOME/.cache/credmesh/tools}"

bash "$repo/scripts/provision.sh" >&2
# shellcheck source=/dev/null
source "$tools/env.sh"

# A lockfile a fresh machine cannot install (a version-less entry, or out of sync with a
# package.json) is refused here, naming the entry, rather than by `npm ci` on the next machine.
"$CREDMESH_NODE" "$repo/scripts/check-lockfile.ts" "$repo" >&2

stamp="$repo/node_modules/.credmesh-lock.sha256"
want="$(sha256sum "$repo/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "npm ci (package-lock.json changed or node_modules missing)" >&2
  (cd "$repo" && "$CREDMESH_NPM" ci --no-audit --no-fund --loglevel=error --fetch-timeout=60000 --fetch-retries=4 >&2)
  echo "$want" >"$stamp"
fi
