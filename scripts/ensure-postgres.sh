#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) exist; install Debian's package if not.
# The test harness starts and stops its own server from these binaries (tests/harness/postgres.py).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
echo "installing PostgreSQL server (Debian package postgresql)..."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
