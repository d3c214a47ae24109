#!/usr/bin/env bash
# Debian packages the product and its tests use, installed when missing (the machines run as root):
# python venv support; Prometheus + promtool (scrape and rule tests); Alertmanager (notification tests);
# Chromium (the dashboard's real-browser test); Pango (WeasyPrint lays out the weekly report's PDF with it) and a
# font; poppler-utils (pdftotext, pdftoppm: the report tests read and render the PDF); curl and jq (the quickstart).
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3 python3-venv)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
for lib in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'install ok installed' || need+=("$lib")
done
command -v pdftoppm >/dev/null || need+=(poppler-utils)
# curl and jq: docs/quickstart.md's commands, which tests/integration/test_quickstart.py runs as written
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing Debian packages: ${need[*]} (run as root or install them)" >&2; exit 1; fi
  apt-get update -qq
  # --no-install-recommends: the servers are started by tests and `make run`, never as system services
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
