#!/usr/bin/env bash
# Installs every third-party "real part" credmesh's tests and benchmarks run
# against, pinned, into ${CREDMESH_TOOLS_DIR:-$HOME/.cache/credmesh/tools}:
#
#   node 24 (+ npm)       from the npm registry (the `node` package ships the binary)
#   nats-server           built from the Go module proxy
#   nats (natscli)        built from the Go module proxy via scripts/lib/natscli
#   moto[server]          Python venv from PyPI (AWS Secrets Manager emulator)
#   prometheus, promtool  Debian's `prometheus` package (service never started)
#   docker-compose        Compose v5, built from the Go module proxy via scripts/lib/compose
#                         (validates docker-compose.yml with `config`; no engine needed)
#   helm                  Helm v4, built from the Go module proxy (lint/template of deploy/helm)
#   tofu                  OpenTofu, built from the Go module proxy via scripts/lib/opentofu
#                         (`tofu fmt -check` of deploy/terraform)
#   Lowkey Vault jar      Maven Central, optional (Azure Key Vault emulator)
#   java                  newest local JDK that Lowkey Vault can run on
#
# Only package registries are reachable from our machines and CI, so every part
# comes from one of them. Each part is (re)installed only when its stamp file
# (pinned version + recipe hash) is missing or different, so a second run is
# near-instant. It then writes $TOOLS/env.sh (to `source`) and $TOOLS/env.json
# (read by the TypeScript test harness).
#
# Usage:
#   scripts/provision.sh                 install what is missing, write env files
#   scripts/provision.sh --check         verify only; exit 1 listing what is missing
#   scripts/provision.sh --retry-lowkey  retry the Lowkey Vault download now even if
#                                        it failed less than a day ago
# Environment:
#   CREDMESH_TOOLS_DIR  install location (default $HOME/.cache/credmesh/tools)
#   LOWKEY_VAULT_JAR    use this Lowkey Vault jar instead of downloading one
#   MAVEN_CENTRAL_URL   Maven Central base URL (default https://repo1.maven.org/maven2)
set -euo pipefail

# Machines behind a TLS-inspecting proxy trust its CA through the system bundle; npm and the
# provisioned Node ship their own CA list, so point them at the system one when nobody else did.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

# ---------------------------------------------------------------- pins ------
NODE_VERSION=24.21.0
NODE_MIN_MAJOR=24
NPM_VERSION=11.6.2            # matches "packageManager" in the root package.json
NATS_SERVER_VERSION=2.12.15
NATSCLI_VERSION=0.5.0         # newest the Go proxy serves; see scripts/lib/natscli/go.mod
MOTO_VERSION=5.2.5
PROMETHEUS_DEB_VERSION=2.42.0+ds-5+deb12u1   # Debian 12 (bookworm)
COMPOSE_VERSION=5.6.0         # see scripts/lib/compose/go.mod
HELM_VERSION=4.3.2
OPENTOFU_VERSION=1.10.10      # see scripts/lib/opentofu/go.mod
# Not provisioned: prometheus-nats-exporter. The Go module proxy refuses it (403 "This module
# version is not available", for the version list and for v0.17.3), and no other registry we
# reach serves it; docker-compose.yml and the nats Helm chart run its container image instead.
LOWKEY_VAULT_VERSION=7.1.13
LOWKEY_VAULT_MIN_JAVA=25      # Lowkey Vault 7.x is built for Java 25
LOWKEY_RETRY_AFTER_S=86400    # re-try a failed Lowkey Vault download after a day

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB_DIR="$SCRIPT_DIR/lib"
TOOLS="${CREDMESH_TOOLS_DIR:-$HOME/.cache/credmesh/tools}"
STAMPS="$TOOLS/stamps"
LOG="$TOOLS/provision.log"
MAVEN_CENTRAL_URL="${MAVEN_CENTRAL_URL:-https://repo1.maven.org/maven2}"

MODE=install
HAVE=cached         # what an already-installed part is called ("ok" under --check)
RETRY_LOWKEY=0
for arg in "$@"; do
  case "$arg" in
    --check) MODE=check HAVE=ok ;;
    --retry-lowkey) RETRY_LOWKEY=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "provision.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

# Results, filled in by the part functions and written to env.sh / env.json.
NODE="" NODE_BIN_DIR="" NPM_CLI="" NPM_CMD="" NODE_VER="" NPM_VER=""
NATS_SERVER="" NATS_CLI="" MOTO_SERVER="" PROMETHEUS="" PROMTOOL="" PROM_VER=""
DOCKER_COMPOSE="" HELM="" TOFU=""
JAVA="" JAVA_VER="" LOWKEY_JAR="" LOWKEY_VER=""
MISSING=()          # --check: what is not there
WARNINGS=()

# -------------------------------------------------------------- helpers -----
IN_PROGRESS=0       # 1 while an "installing ..." line is open (no newline yet)
PART_START=0
TMP_DIRS=()
POLICY_RC_BACKUP=""  # set while we have replaced /usr/sbin/policy-rc.d

say()  { printf '%s\n' "$*"; }
warn() { [ "$IN_PROGRESS" = 1 ] && { printf '\n'; IN_PROGRESS=0; }
         printf 'WARNING: %s\n' "$*" >&2; WARNINGS+=("$*"); }
die()  { [ "$IN_PROGRESS" = 1 ] && { printf '\n'; IN_PROGRESS=0; }
         printf 'provision.sh: %s\n' "$*" >&2
         if [ -s "$LOG" ]; then
           printf -- '---- last 40 lines of %s ----\n' "$LOG" >&2
           tail -n 40 "$LOG" >&2
         fi
         exit 1; }

# "part version: installing ..." stays open until installed() closes it, so
# each part prints a single line.
installing() { printf '%s: installing ...' "$1"; IN_PROGRESS=1; PART_START=$SECONDS
               printf '\n==== %s: installing (%s)\n' "$1" "$(date -u +%FT%TZ)" >>"$LOG"; }
installed()  { printf ' done (%ss)\n' "$((SECONDS - PART_START))"; IN_PROGRESS=0; }

# run DESCRIPTION CMD...: run a noisy command with its output in the log.
run() {
  local desc=$1; shift
  printf -- '-- %s: %s\n' "$desc" "$*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || die "$desc failed (exit $?)"
}

stamp_ok()    { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
write_stamp() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1.tmp"; mv -f "$STAMPS/$1.tmp" "$STAMPS/$1"; }

# new_tmp_dir: sets TMP_DIR to a fresh scratch dir under $TOOLS, removed on exit.
# (Not printed-and-captured: a $(...) subshell would lose the TMP_DIRS entry.)
TMP_DIR=""
new_tmp_dir() { TMP_DIR=$(mktemp -d "$TOOLS/tmp.XXXXXX"); TMP_DIRS+=("$TMP_DIR"); }

# Hash of the files a part is built from, so editing them triggers a rebuild.
files_hash() { cat "$@" | sha256sum | cut -c1-16; }

# Root for apt/dpkg: we are root on our machines; elsewhere use sudo if it
# works without a password, else the part fails with a clear message.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "need root (or passwordless sudo) for: $*"; fi
}

APT_UPDATED=0
apt_update() {   # at most once per run
  [ "$APT_UPDATED" = 1 ] && return 0
  run "apt-get update" as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  APT_UPDATED=1
}
APT_INSTALL=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
             -o DPkg::Lock::Timeout=300)
apt_install() {  # apt_install DESC PKG...
  local desc=$1; shift
  apt_update
  run "$desc" as_root "${APT_INSTALL[@]}" "$@"
}

find_go() {
  local go
  go=$(command -v go || true)
  [ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
  [ -n "$go" ] || die "Go toolchain not found (need go >= 1.26 on PATH or at /usr/local/go/bin/go)"
  printf '%s' "$go"
}
# Builds use only the local toolchain (no toolchain download) and ignore any
# GOFLAGS from the caller's environment (e.g. -mod=mod would defeat go.sum).
go_env() { env GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cleanup() {
  local rc=$?
  local d
  for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
  restore_policy_rc
  [ "$rc" = 0 ] || [ "$IN_PROGRESS" = 0 ] || printf '\n'
  return "$rc"
}
trap cleanup EXIT

# --------------------------------------------------------------- parts ------

# 1. Node.js >= 24. The machine's node may be older (Debian/CI ship 20), so we
# install the npm registry's `node` package (it carries the official binary)
# plus a pinned npm into one prefix. npm's own bin/npm shim runs whichever
# `node` comes first on PATH, so CREDMESH_NPM is a wrapper that always runs
# npm-cli.js with *our* node.
part_node() {
  local sys_node sys_major
  sys_node=$(command -v node || true)
  if [ -n "$sys_node" ]; then
    sys_major=$("$sys_node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$sys_major" -ge "$NODE_MIN_MAJOR" ]; then
      NODE=$(readlink -f "$sys_node")
      NODE_VER=$("$NODE" -p 'process.versions.node')
      NPM_CLI=$(readlink -f "$(command -v npm 2>/dev/null || true)" 2>/dev/null || true)
      [[ "$NPM_CLI" == */npm-cli.js ]] || NPM_CLI=""
      [ -f "$NPM_CLI" ] || NPM_CLI="$(dirname "$NODE")/../lib/node_modules/npm/bin/npm-cli.js"
      [ -f "$NPM_CLI" ] || { record_missing "npm for system node $NODE"; return 0; }
      NPM_VER=$("$NODE" "$NPM_CLI" --version 2>/dev/null || echo unknown)
      NODE_BIN_DIR=$(dirname "$sys_node")
      say "node $NODE_VER (system, npm $NPM_VER): ok"
      write_npm_wrapper
      return 0
    fi
  fi

  local prefix="$TOOLS/node-$NODE_VERSION"
  local want="node=$NODE_VERSION npm=$NPM_VERSION"
  NODE="$prefix/bin/node"
  NPM_CLI="$prefix/lib/node_modules/npm/bin/npm-cli.js"
  NODE_BIN_DIR="$prefix/bin"
  NODE_VER=$NODE_VERSION NPM_VER=$NPM_VERSION
  if stamp_ok node "$want" && [ -x "$NODE" ] && [ -f "$NPM_CLI" ]; then
    say "node $NODE_VERSION (npm $NPM_VERSION): $HAVE"
  elif [ "$MODE" = check ]; then
    record_missing "node $NODE_VERSION / npm $NPM_VERSION ($prefix)"; return 0
  else
    installing "node $NODE_VERSION (npm $NPM_VERSION)"
    # Bootstrapping needs some npm; every machine of ours has the system one.
    command -v npm >/dev/null || die "need an existing npm to bootstrap node $NODE_VERSION"
    rm -rf "$prefix"
    run "npm install node@$NODE_VERSION npm@$NPM_VERSION" \
      npm install --global --prefix "$prefix" --no-audit --no-fund --loglevel=warn \
      "node@$NODE_VERSION" "npm@$NPM_VERSION"
    [ "$("$NODE" --version 2>>"$LOG")" = "v$NODE_VERSION" ] || die "node $NODE_VERSION did not install correctly"
    [ "$("$NODE" "$NPM_CLI" --version 2>>"$LOG")" = "$NPM_VERSION" ] || die "npm $NPM_VERSION does not run with node $NODE_VERSION"
    write_stamp node "$want"
    installed
  fi
  write_npm_wrapper
}

write_npm_wrapper() {
  [ "$MODE" = install ] || { NPM_CMD="$TOOLS/bin/credmesh-npm"; [ -x "$NPM_CMD" ] || record_missing "$NPM_CMD"; return 0; }
  NPM_CMD="$TOOLS/bin/credmesh-npm"
  mkdir -p "$TOOLS/bin"
  local content
  content=$(printf '#!/bin/sh\n# Generated by scripts/provision.sh: npm run by the provisioned node.\nexec %s %s "$@"\n' \
    "$(sh_quote "$NODE")" "$(sh_quote "$NPM_CLI")")
  if [ ! -f "$NPM_CMD" ] || [ "$(cat "$NPM_CMD")" != "$content" ]; then
    printf '%s\n' "$content" >"$NPM_CMD.tmp" && chmod +x "$NPM_CMD.tmp" && mv -f "$NPM_CMD.tmp" "$NPM_CMD"
  fi
}

# go_cli_part NAME VERSION BINARY STAMP BUILD_FN: the stamp/check/install frame of a Go-built
# tool. BUILD_FN GO WORKDIR builds WORKDIR/out and checks the version it reports.
go_cli_part() {
  local name=$1 version=$2 binary=$3 want=$4 build=$5
  if stamp_ok "$name" "$want" && [ -x "$binary" ]; then
    say "$name $version: $HAVE"; return 0
  fi
  [ "$MODE" = check ] && { record_missing "$name $version ($binary)"; return 0; }
  installing "$name $version"
  local go work
  go=$(find_go)
  new_tmp_dir; work=$TMP_DIR
  "$build" "$go" "$work"
  mkdir -p "$TOOLS/bin"
  mv -f "$work/out" "$binary"
  write_stamp "$name" "$want"
  installed
}

# build_from_lib GO WORK LIBDIR PACKAGE LDFLAGS: go build of PACKAGE from a copy of scripts/lib/LIBDIR.
build_from_lib() {
  local go=$1 work=$2 src="$LIB_DIR/$3" pkg=$4 ldflags=$5
  cp "$src/go.mod" "$src/go.sum" "$src/tools.go" "$work/"
  run "go build $pkg" env GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
    "$go" build -C "$work" -trimpath -ldflags "$ldflags" -o "$work/out" "$pkg"
}

# expect_version BINARY WANT ARGS...: the first line BINARY ARGS prints must be WANT.
expect_version() {
  local binary=$1 want=$2 got; shift 2
  got=$("$binary" "$@" 2>>"$LOG" | head -n1)
  [ "$got" = "$want" ] || die "the built binary reports \"$got\", not \"$want\""
}

# 2. nats-server, built from its tagged module (its own go.mod/go.sum pin all
# dependencies, so `go install pkg@version` is reproducible).
build_nats_server() {
  run "go install nats-server" go_env GOBIN="$2" "$1" install -trimpath \
    "github.com/nats-io/nats-server/v2@v$NATS_SERVER_VERSION"
  mv -f "$2/nats-server" "$2/out"
  expect_version "$2/out" "nats-server: v$NATS_SERVER_VERSION" --version
}
part_nats_server() {
  NATS_SERVER="$TOOLS/bin/nats-server"
  go_cli_part nats-server "$NATS_SERVER_VERSION" "$NATS_SERVER" "$NATS_SERVER_VERSION" build_nats_server
}

# 3. The `nats` CLI. `go install github.com/nats-io/natscli/nats@vX` cannot
# work here: the proxy refuses some of natscli v0.5.0's dependency versions.
# scripts/lib/natscli is a throwaway module that pins natscli v0.5.0 and
# replaces those dependencies with the nearest served (API compatible)
# versions; its go.sum makes the build exact (-mod=readonly).
part_nats_cli() {
  NATS_CLI="$TOOLS/bin/nats"
  local src="$LIB_DIR/natscli"
  local want
  want="$NATSCLI_VERSION $(files_hash "$src/go.mod" "$src/go.sum" "$src/tools.go")"
  if stamp_ok natscli "$want" && [ -x "$NATS_CLI" ]; then
    say "nats CLI $NATSCLI_VERSION: $HAVE"; return 0
  fi
  [ "$MODE" = check ] && { record_missing "nats CLI $NATSCLI_VERSION ($NATS_CLI)"; return 0; }
  installing "nats CLI $NATSCLI_VERSION"
  local go work
  go=$(find_go)
  new_tmp_dir; work=$TMP_DIR
  # Build from a copy so nothing is ever written into the repository.
  cp "$src/go.mod" "$src/go.sum" "$src/tools.go" "$work/"
  run "go build natscli" env GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
    CGO_ENABLED=0 "$go" build -C "$work" -trimpath -o "$work/nats" github.com/nats-io/natscli/nats
  [ "$("$work/nats" --version 2>>"$LOG")" = "v$NATSCLI_VERSION" ] \
    || die "built nats CLI does not report v$NATSCLI_VERSION"
  mkdir -p "$TOOLS/bin"
  mv -f "$work/nats" "$NATS_CLI"
  write_stamp natscli "$want"
  installed
}

# 4. moto[server] in its own venv; scripts/lib/moto-constraints.txt pins
# every transitive dependency. Verified by starting it on loopback.
part_moto() {
  local venv="$TOOLS/moto-venv"
  local constraints="$LIB_DIR/moto-constraints.txt"
  local want
  want="$MOTO_VERSION $(files_hash "$constraints")"
  MOTO_SERVER="$venv/bin/moto_server"
  # -x on the venv's python also catches a venv whose base python vanished.
  if stamp_ok moto "$want" && [ -x "$MOTO_SERVER" ] && [ -x "$venv/bin/python" ]; then
    say "moto[server] $MOTO_VERSION: $HAVE"; return 0
  fi
  [ "$MODE" = check ] && { record_missing "moto[server] $MOTO_VERSION ($MOTO_SERVER)"; return 0; }
  installing "moto[server] $MOTO_VERSION"
  command -v python3 >/dev/null || die "python3 not found (needed for moto)"
  rm -rf "$venv"
  run "python3 -m venv" python3 -m venv "$venv"
  run "pip install moto[server]==$MOTO_VERSION" "$venv/bin/python" -m pip install \
    --disable-pip-version-check --no-input -c "$constraints" "moto[server]==$MOTO_VERSION"
  verify_moto || die "moto_server did not answer on 127.0.0.1"
  write_stamp moto "$want"
  installed
}

verify_moto() {
  local port pid ok=1
  port=$(free_port)
  "$MOTO_SERVER" -H 127.0.0.1 -p "$port" >>"$LOG" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then ok=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return "$ok"
}

# 5. Prometheus + promtool from Debian. We run prometheus ourselves as a plain
# process, so the package's service must never start or be enabled: a
# policy-rc.d that answers 101 ("action forbidden") makes invoke-rc.d skip the
# start during postinst.
part_prometheus() {
  local status=""
  status=$(dpkg-query -W -f='${Status} ${Version}' prometheus 2>/dev/null || true)
  PROMETHEUS=/usr/bin/prometheus PROMTOOL=/usr/bin/promtool
  if [[ "$status" == "install ok installed "* ]] && [ -x "$PROMETHEUS" ] && [ -x "$PROMTOOL" ]; then
    PROM_VER=${status##* }
    if [ "$PROM_VER" = "$PROMETHEUS_DEB_VERSION" ]; then
      say "prometheus $PROM_VER: $HAVE"
    else
      say "prometheus $PROM_VER: $HAVE (pinned $PROMETHEUS_DEB_VERSION; accepting Debian's update)"
    fi
    return 0
  fi
  [ "$MODE" = check ] && { record_missing "prometheus/promtool (Debian package prometheus)"; return 0; }
  command -v apt-get >/dev/null || die "apt-get not found: prometheus comes from Debian's package"
  installing "prometheus $PROMETHEUS_DEB_VERSION"
  forbid_service_starts
  apt_update
  printf -- '-- apt-get install prometheus=%s\n' "$PROMETHEUS_DEB_VERSION" >>"$LOG"
  if ! as_root "${APT_INSTALL[@]}" "prometheus=$PROMETHEUS_DEB_VERSION" >>"$LOG" 2>&1; then
    # The pinned Debian revision may have been superseded (security update).
    apt_install "apt-get install prometheus" prometheus
  fi
  stop_prometheus_service
  restore_policy_rc
  status=$(dpkg-query -W -f='${Status} ${Version}' prometheus 2>/dev/null || true)
  PROM_VER=${status##* }
  "$PROMETHEUS" --version >>"$LOG" 2>&1 || die "prometheus --version failed"
  "$PROMTOOL" --version >>"$LOG" 2>&1 || die "promtool --version failed"
  installed
  [ "$PROM_VER" = "$PROMETHEUS_DEB_VERSION" ] || warn "installed prometheus $PROM_VER instead of pinned $PROMETHEUS_DEB_VERSION"
}

forbid_service_starts() {
  local p=/usr/sbin/policy-rc.d rc=0
  if [ -x "$p" ]; then
    "$p" prometheus start >/dev/null 2>&1 || rc=$?
    [ "$rc" = 101 ] && return 0            # already forbids starts
    POLICY_RC_BACKUP="$p.credmesh-backup"
    as_root cp -p "$p" "$POLICY_RC_BACKUP"
  else
    POLICY_RC_BACKUP=none
  fi
  printf '#!/bin/sh\n# Temporary, from credmesh scripts/provision.sh\nexit 101\n' | as_root tee "$p" >/dev/null
  as_root chmod 755 "$p"
}

restore_policy_rc() {
  local p=/usr/sbin/policy-rc.d
  case "$POLICY_RC_BACKUP" in
    "") return 0 ;;
    none) as_root rm -f "$p" ;;
    *) as_root mv -f "$POLICY_RC_BACKUP" "$p" ;;
  esac
  POLICY_RC_BACKUP=""
}

# Belt and braces: disable the unit where systemd runs, and stop a daemon the
# package may still have started (only the package's own `prometheus` user's
# process, which our install just created).
stop_prometheus_service() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now prometheus.service >>"$LOG" 2>&1 || true
  elif command -v update-rc.d >/dev/null && [ -e /etc/init.d/prometheus ]; then
    as_root update-rc.d prometheus disable >>"$LOG" 2>&1 || true
  fi
  local pids
  pids=$(pgrep -u prometheus -x prometheus 2>/dev/null || true)
  if [ -n "$pids" ]; then
    printf -- '-- stopping package-started prometheus daemon: %s\n' "$pids" >>"$LOG"
    as_root invoke-rc.d prometheus stop >>"$LOG" 2>&1 || true
    pids=$(pgrep -u prometheus -x prometheus 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || as_root kill $pids || true
  fi
}

# 6. Go CLIs that check the deployment files: docker-compose (Compose v5), helm (v4), tofu
# (OpenTofu). Compose and OpenTofu carry exclude/replace directives in their go.mod, which
# `go install pkg@version` refuses, so each is built from a throwaway module in scripts/lib that
# repeats those directives (its go.sum makes the build exact, -mod=readonly). Helm installs as is.
# The version variables that the projects' own release builds set with -ldflags are set the same
# way, so `--version` reports the pinned release.

build_compose() {
  build_from_lib "$1" "$2" compose github.com/docker/compose/v5/cmd \
    "-s -w -X github.com/docker/compose/v5/internal.Version=v$COMPOSE_VERSION"
  expect_version "$2/out" "Docker Compose version v$COMPOSE_VERSION" version
}
part_compose() {
  DOCKER_COMPOSE="$TOOLS/bin/docker-compose"
  go_cli_part docker-compose "$COMPOSE_VERSION" "$DOCKER_COMPOSE" \
    "$COMPOSE_VERSION $(files_hash "$LIB_DIR/compose/go.mod" "$LIB_DIR/compose/go.sum" "$LIB_DIR/compose/tools.go")" build_compose
}

build_helm() {
  run "go install helm" go_env GOBIN="$2" "$1" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION"
  mv -f "$2/helm" "$2/out"
  expect_version "$2/out" "v$HELM_VERSION" version --template '{{.Version}}'
}
part_helm() {
  HELM="$TOOLS/bin/helm"
  go_cli_part helm "$HELM_VERSION" "$HELM" "$HELM_VERSION" build_helm
}

build_tofu() {
  build_from_lib "$1" "$2" opentofu github.com/opentofu/opentofu/cmd/tofu \
    "-s -w -X github.com/opentofu/opentofu/version.dev=no"
  TF_CLI_CONFIG_FILE=/dev/null expect_version "$2/out" "OpenTofu v$OPENTOFU_VERSION" version
}
part_tofu() {
  TOFU="$TOOLS/bin/tofu"
  go_cli_part tofu "$OPENTOFU_VERSION" "$TOFU" \
    "$OPENTOFU_VERSION $(files_hash "$LIB_DIR/opentofu/go.mod" "$LIB_DIR/opentofu/go.sum" "$LIB_DIR/opentofu/tools.go")" build_tofu
}

# 7. Lowkey Vault, optional. Its app jar should be on Maven Central, but from
# our machines it is not obtainable (404), so failure here is a warning: the
# test harness falls back to the in-repo Key Vault emulator. An operator can
# point LOWKEY_VAULT_JAR at a jar obtained some other way.
part_lowkey() {
  local dir="$TOOLS/lowkey-vault"
  local jar="$dir/lowkey-vault-app-$LOWKEY_VAULT_VERSION.jar"
  local neg="$STAMPS/lowkey-vault.unavailable"
  if [ -n "${LOWKEY_VAULT_JAR:-}" ]; then
    [ -f "$LOWKEY_VAULT_JAR" ] || die "LOWKEY_VAULT_JAR=$LOWKEY_VAULT_JAR does not exist"
    LOWKEY_JAR=$(readlink -f "$LOWKEY_VAULT_JAR")
    LOWKEY_VER=$(jar_version "$LOWKEY_JAR")
    say "lowkey-vault ${LOWKEY_VER:-?}: using LOWKEY_VAULT_JAR=$LOWKEY_JAR"
    return 0
  fi
  if stamp_ok lowkey-vault "$LOWKEY_VAULT_VERSION" && [ -f "$jar" ]; then
    LOWKEY_JAR=$jar LOWKEY_VER=$LOWKEY_VAULT_VERSION
    say "lowkey-vault $LOWKEY_VAULT_VERSION: $HAVE"; return 0
  fi
  if [ "$MODE" = check ]; then
    say "lowkey-vault $LOWKEY_VAULT_VERSION: not installed (optional; the in-repo Key Vault emulator is used)"
    return 0
  fi
  # Don't hit Maven Central on every run for a jar it did not have recently.
  if [ "$RETRY_LOWKEY" = 0 ] && [ -f "$neg" ] \
     && [ $(( $(date +%s) - $(stat -c %Y "$neg") )) -lt "$LOWKEY_RETRY_AFTER_S" ]; then
    say "lowkey-vault $LOWKEY_VAULT_VERSION: unavailable ($(cat "$neg"); checked $(date -u -d "@$(stat -c %Y "$neg")" +%FT%TZ), --retry-lowkey to retry now)"
    return 0
  fi
  installing "lowkey-vault $LOWKEY_VAULT_VERSION"
  local base="$MAVEN_CENTRAL_URL/com/github/nagyesta/lowkey-vault/lowkey-vault-app/$LOWKEY_VAULT_VERSION"
  local name="lowkey-vault-app-$LOWKEY_VAULT_VERSION.jar"
  local work code want_sha got_sha url
  new_tmp_dir; work=$TMP_DIR
  url="$base/$name.sha1"
  code=$(curl -sS -L --retry 2 --connect-timeout 15 --max-time 60 -o "$work/sha1" -w '%{http_code}' \
           "$base/$name.sha1" 2>>"$LOG" || true)
  printf -- '-- GET %s/%s.sha1 -> HTTP %s\n' "$base" "$name" "$code" >>"$LOG"
  if [ "$code" = 200 ]; then
    want_sha=$(grep -oE '^[0-9a-f]{40}' "$work/sha1" || true)
    url="$base/$name"
    code=$(curl -sS -L --retry 2 --connect-timeout 15 --max-time 600 -o "$work/$name" -w '%{http_code}' \
             "$url" 2>>"$LOG" || true)
    printf -- '-- GET %s/%s -> HTTP %s\n' "$base" "$name" "$code" >>"$LOG"
    got_sha=$(sha1sum "$work/$name" 2>/dev/null | cut -c1-40 || true)
    if [ "$code" = 200 ] && [ -n "$want_sha" ] && [ "$got_sha" = "$want_sha" ]; then
      mkdir -p "$dir"
      mv -f "$work/$name" "$jar"
      rm -f "$neg"
      write_stamp lowkey-vault "$LOWKEY_VAULT_VERSION"
      LOWKEY_JAR=$jar LOWKEY_VER=$LOWKEY_VAULT_VERSION
      installed
      return 0
    fi
  fi
  local reason="HTTP $code"
  [ "$code" != 200 ] || reason="sha1 mismatch (want ${want_sha:-none}, got ${got_sha:-none})"
  mkdir -p "$STAMPS"
  printf '%s for %s\n' "$reason" "${url##*/}" >"$neg"
  printf ' unavailable\n'; IN_PROGRESS=0
  warn "Lowkey Vault jar not obtainable from Maven Central ($reason for $url); the test harness will use the in-repo Key Vault emulator"
}

# Version from a lowkey-vault-app-X.Y.Z.jar file name (operator-supplied jars).
jar_version() { basename "$1" | sed -nE 's/.*-([0-9]+\.[0-9]+\.[0-9]+)\.jar$/\1/p'; }

# Java major a jar was built for: Spring Boot jars record Build-Jdk-Spec.
jar_java_major() {
  local m
  m=$(python3 - "$1" <<'EOF' 2>/dev/null || true
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for line in z.read("META-INF/MANIFEST.MF").decode("utf-8", "replace").splitlines():
        if line.startswith("Build-Jdk-Spec:"):
            print(line.split(":", 1)[1].strip().split(".")[0])
EOF
)
  printf '%s' "$m"
}

java_major_of() {  # java_major_of /path/to/bin/java -> "25 25.0.3"
  local home rel ver
  home=$(dirname "$(dirname "$(readlink -f "$1")")")
  rel="$home/release"
  if [ -f "$rel" ]; then
    ver=$(sed -nE 's/^JAVA_VERSION="([^"]+)".*/\1/p' "$rel")
  fi
  [ -n "${ver:-}" ] || ver=$("$1" -version 2>&1 | sed -nE '1s/.*version "([^"]+)".*/\1/p')
  [ -n "$ver" ] || return 1
  case "$ver" in 1.*) printf '%s %s' "$(echo "$ver" | cut -d. -f2)" "$ver" ;;
                 *)   printf '%s %s' "${ver%%[.+-]*}" "$ver" ;; esac
}

# 8. java: the oldest JDK/JRE on the machine that still meets Lowkey Vault's
# requirement (25 for 7.x; a jar's Build-Jdk-Spec when we have the jar), i.e.
# the one closest to what the jar was built and tested with. Older jars (Java 17) get Debian's
# openjdk-17-jre-headless if no suitable java exists.
part_java() {
  local need=$LOWKEY_VAULT_MIN_JAVA
  if [ -n "$LOWKEY_JAR" ]; then
    local m
    m=$(jar_java_major "$LOWKEY_JAR")
    [ -z "$m" ] || need=$m
  fi
  pick_java "$need"
  if [ -z "$JAVA" ] && [ -n "$LOWKEY_JAR" ] && [ "$need" -le 17 ] && [ "$MODE" = install ]; then
    installing "openjdk-17-jre-headless"
    apt_install "apt-get install openjdk-17-jre-headless" openjdk-17-jre-headless
    installed
    pick_java "$need"
  fi
  if [ -n "$JAVA" ]; then
    say "java $JAVA_VER: ok ($JAVA)"
  elif [ -n "$LOWKEY_JAR" ]; then
    [ "$MODE" = check ] && record_missing "java >= $need for Lowkey Vault"
    [ "$MODE" = check ] || warn "no java >= $need found under /usr/lib/jvm or on PATH; Lowkey Vault cannot run"
  else
    say "java: none >= $need found (only needed for Lowkey Vault)"
  fi
}

pick_java() {
  local need=$1 best="" best_major=999 best_ver="" cand mv major ver
  local -a cands=()
  [ -z "${JAVA_HOME:-}" ] || cands+=("$JAVA_HOME/bin/java")
  for cand in /usr/lib/jvm/*/bin/java; do cands+=("$cand"); done
  cand=$(command -v java || true); [ -z "$cand" ] || cands+=("$cand")
  for cand in "${cands[@]}"; do
    [ -x "$cand" ] || continue
    mv=$(java_major_of "$cand") || continue
    major=${mv%% *} ver=${mv#* }
    if [ "$major" -ge "$need" ] && [ "$major" -lt "$best_major" ]; then
      best=$(readlink -f "$cand") best_major=$major best_ver=$ver
    fi
  done
  JAVA=$best JAVA_VER=$best_ver
}

record_missing() { MISSING+=("$1"); say "MISSING: $1"; }

# ------------------------------------------------------------- outputs ------
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

write_env_files() {
  local sh="$TOOLS/env.sh" json="$TOOLS/env.json"
  {
    printf '# Generated by scripts/provision.sh; do not edit. Usage: source %s\n' "$sh"
    printf 'export CREDMESH_TOOLS_DIR=%s\n' "$(sh_quote "$TOOLS")"
    # Provisioned node first (its bin dir also has npm/npx), then nats-server/nats.
    # shellcheck disable=SC2016 # $PATH must expand when env.sh is sourced
    printf 'case ":$PATH:" in\n  %s:%s:*) ;;\n  *) PATH=%s:%s:"$PATH" ;;\nesac\nexport PATH\n' \
      "$(sh_quote ":$NODE_BIN_DIR")" "$(sh_quote "$TOOLS/bin")" \
      "$(sh_quote "$NODE_BIN_DIR")" "$(sh_quote "$TOOLS/bin")"
    printf 'export CREDMESH_NODE=%s\n' "$(sh_quote "$NODE")"
    printf 'export CREDMESH_NPM=%s\n' "$(sh_quote "$NPM_CMD")"
    printf 'export CREDMESH_NATS_SERVER=%s\n' "$(sh_quote "$NATS_SERVER")"
    printf 'export CREDMESH_NATS_CLI=%s\n' "$(sh_quote "$NATS_CLI")"
    printf 'export CREDMESH_MOTO_SERVER=%s\n' "$(sh_quote "$MOTO_SERVER")"
    printf 'export CREDMESH_PROMETHEUS=%s\n' "$(sh_quote "$PROMETHEUS")"
    printf 'export CREDMESH_PROMTOOL=%s\n' "$(sh_quote "$PROMTOOL")"
    printf 'export CREDMESH_DOCKER_COMPOSE=%s\n' "$(sh_quote "$DOCKER_COMPOSE")"
    printf 'export CREDMESH_HELM=%s\n' "$(sh_quote "$HELM")"
    printf 'export CREDMESH_TOFU=%s\n' "$(sh_quote "$TOFU")"
    printf 'export CREDMESH_JAVA=%s\n' "$(sh_quote "$JAVA")"
    printf 'export CREDMESH_LOWKEY_VAULT_JAR=%s\n' "$(sh_quote "$LOWKEY_JAR")"
  } >"$sh.tmp"
  mv -f "$sh.tmp" "$sh"

  # JSON via node (always present by now) so every string is escaped properly.
  P_TOOLS=$TOOLS P_NODE=$NODE P_NPM=$NPM_CMD P_NATS_SERVER=$NATS_SERVER P_NATS_CLI=$NATS_CLI \
  P_MOTO=$MOTO_SERVER P_PROM=$PROMETHEUS P_PROMTOOL=$PROMTOOL P_JAVA=$JAVA P_LOWKEY=$LOWKEY_JAR \
  P_COMPOSE=$DOCKER_COMPOSE P_HELM=$HELM P_TOFU=$TOFU \
  V_NODE=$NODE_VER V_NPM=$NPM_VER V_NATS_SERVER=$NATS_SERVER_VERSION V_NATS_CLI=$NATSCLI_VERSION \
  V_MOTO=$MOTO_VERSION V_PROM=$PROM_VER V_JAVA=$JAVA_VER V_LOWKEY=$LOWKEY_VER \
  V_COMPOSE=$COMPOSE_VERSION V_HELM=$HELM_VERSION V_TOFU=$OPENTOFU_VERSION \
  "$NODE" -e '
    const e = process.env, v = (k) => (e[k] ? e[k] : null);
    const out = {
      toolsDir: v("P_TOOLS"), node: v("P_NODE"), npm: v("P_NPM"),
      natsServer: v("P_NATS_SERVER"), natsCli: v("P_NATS_CLI"), motoServer: v("P_MOTO"),
      prometheus: v("P_PROM"), promtool: v("P_PROMTOOL"), java: v("P_JAVA"),
      lowkeyVaultJar: v("P_LOWKEY"),
      dockerCompose: v("P_COMPOSE"), helm: v("P_HELM"), tofu: v("P_TOFU"),
      versions: {
        node: v("V_NODE"), npm: v("V_NPM"), natsServer: v("V_NATS_SERVER"), natsCli: v("V_NATS_CLI"),
        moto: v("V_MOTO"), prometheus: v("V_PROM"), java: v("V_JAVA"), lowkeyVault: v("V_LOWKEY"),
        dockerCompose: v("V_COMPOSE"), helm: v("V_HELM"), tofu: v("V_TOFU"),
      },
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");' >"$json.tmp"
  mv -f "$json.tmp" "$json"
}

# ---------------------------------------------------------------- main ------
main() {
  if [ "$MODE" = check ]; then
    if [ ! -d "$TOOLS" ]; then
      echo "MISSING: tools dir $TOOLS (run scripts/provision.sh)"; exit 1
    fi
    LOG=/dev/null
    # Shared lock: don't report half-installed parts while a run installs.
    if [ -f "$TOOLS/.provision.lock" ]; then
      exec 9<"$TOOLS/.provision.lock"
      flock -s -w 600 9 || die "timed out waiting for another provision.sh run"
    fi
  else
    mkdir -p "$TOOLS" "$STAMPS" "$TOOLS/bin"
    # One run at a time per tools dir; a second concurrent run waits, then
    # finds everything cached.
    exec 9>"$TOOLS/.provision.lock"
    if ! flock -n 9; then
      say "waiting for another provision.sh run to finish ..."
      flock -w 3600 9 || die "timed out waiting for the lock on $TOOLS/.provision.lock"
    fi
    [ ! -s "$LOG" ] || mv -f "$LOG" "$LOG.prev"
    printf 'provision.sh run %s\n' "$(date -u +%FT%TZ)" >"$LOG"
  fi

  part_node
  part_nats_server
  part_nats_cli
  part_moto
  part_prometheus
  part_compose
  part_helm
  part_tofu
  part_lowkey
  part_java

  if [ "$MODE" = check ]; then
    [ -f "$TOOLS/env.sh" ] || record_missing "$TOOLS/env.sh"
    [ -f "$TOOLS/env.json" ] || record_missing "$TOOLS/env.json"
    if [ "${#MISSING[@]}" -gt 0 ]; then
      printf '\nprovision --check: %d missing:\n' "${#MISSING[@]}"
      printf '  - %s\n' "${MISSING[@]}"
      exit 1
    fi
    say "provision --check: all present"
    exit 0
  fi

  write_env_files
  say "env: $TOOLS/env.sh"
}

main
