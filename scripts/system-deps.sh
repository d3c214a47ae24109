#!/usr/bin/env bash
# Debian packages the product and its tests use, installed when missing (the machines run as root).
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3 python3-venv)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing Debian packages: ${need[*]} (run as root or install them)" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
