#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) exist; install Debian's package if not.
# The test harness starts and stops its own server from these binaries (tests/harness/postgres.py).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
exec "$(dirname "$0")/apt-install.sh" postgresql
