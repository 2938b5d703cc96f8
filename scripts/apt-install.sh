#!/usr/bin/env bash
# Install Debian packages quietly (with sudo when not root): scripts/apt-install.sh PACKAGE...
set -euo pipefail
echo "installing $* (Debian packages)..."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
