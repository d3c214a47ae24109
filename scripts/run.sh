#!/usr/bin/env bash
# `make run`: the collector on the embedded warehouse, fed by a live simulated firm at demo speed.
# Demo tokens are kept in var/demo-tokens.env (mode 0600) so repeated runs reuse them.

# Each background part runs in its own process group (set -m), so stopping it reaches its children too: the
# collector's parse workers and whatever the simulator starts. The tests source this file for stop_all.
collector="" sim="" dashboard=""
stop_all() {
  trap - EXIT INT TERM
  local pid
  for pid in $sim $dashboard $collector; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
install_stop_trap() {
  trap stop_all EXIT
  trap 'stop_all; exit 130' INT
  trap 'stop_all; exit 143' TERM
}
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0  # sourced: the functions only

set -euo pipefail
set -m
cd "$(dirname "$0")/.."
SW=.venv/bin/syncwatch
port=${SYNCWATCH_PORT:-4318}
api_port=${SYNCWATCH_SIM_API_PORT:-8900}
mkdir -p var
tokens=var/demo-tokens.env
# The demo tokens live in the warehouse: after a reset (rm -rf var/warehouse) the file's tokens are unknown there,
# so they are made anew instead of being refused by the collector.
if [ -s "$tokens" ]; then
  # shellcheck disable=SC1090
  . "$tokens"
  if [ -z "${SYNCWATCH_DEMO_TOKENS:-}" ] \
     || ! COLUMNS=200 $SW token list 2>/dev/null | grep -q "demo-ingest-${SYNCWATCH_DEMO_TOKENS}"; then
    rm -f "$tokens"
  fi
fi
if [ ! -s "$tokens" ]; then
  id=$(date +%s)
  ( umask 077
    ingest=$($SW token create --name "demo-ingest-$id" --scope ingest)
    read=$($SW token create --name "demo-read-$id" --scope read)
    dash=$($SW token create --name "demo-dashboard-$id" --scope read)  # the dashboard's own read token
    printf 'SYNCWATCH_DEMO_TOKENS=%s\nSYNCWATCH_INGEST_TOKEN=%s\nSYNCWATCH_READ_TOKEN=%s\nSYNCWATCH_DASHBOARD_TOKEN=%s\n' \
      "$id" "$ingest" "$read" "$dash" > "$tokens" )
fi
# shellcheck disable=SC1090
. "$tokens"

# The built-in probes sample the simulated systems' APIs, with the simulator's demo credentials (not secrets).
if [ -z "${SYNCWATCH_PROBES_CONFIG:-}" ]; then
  sed "s/8900/${api_port}/g" probes/examples/simulated-estate.yaml > var/probes.yaml
  export SYNCWATCH_PROBES_CONFIG=var/probes.yaml
fi
export SIM_CLIENT_SECRET="${SIM_CLIENT_SECRET:-sim-client-secret}" SIM_API_KEY="${SIM_API_KEY:-sim-api-key}"

$SW serve > var/collector.log 2>&1 &
collector=$!
install_stop_trap
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${port}/readyz" >/dev/null && break
  kill -0 $collector 2>/dev/null || { echo "collector failed to start; see var/collector.log" >&2; tail -5 var/collector.log >&2; exit 1; }
  sleep 0.2
done

# Local mode: no sign-in, so the console binds loopback only (it refuses anything else) and says so on every page.
SYNCWATCH_DASHBOARD_TOKEN="$SYNCWATCH_DASHBOARD_TOKEN" SYNCWATCH_DASHBOARD_API_URL="http://127.0.0.1:${port}" \
  SYNCWATCH_DASHBOARD_AUTH=local SYNCWATCH_DASHBOARD_HOST=127.0.0.1 \
  $SW dashboard > var/dashboard.log 2>&1 &
dashboard=$!

cat <<TXT

  SyncWatch is running (embedded warehouse in ./var/warehouse), fed by a simulated firm of 500 consultants at 60x.
    Dashboard         http://127.0.0.1:${SYNCWATCH_DASHBOARD_PORT:-8501}        (local mode: no sign-in, loopback only; logs: var/dashboard.log)
    Collector         http://127.0.0.1:${port}        (logs: var/collector.log)
      API docs        http://127.0.0.1:${port}/docs
      A record        curl -H "Authorization: Bearer \$SYNCWATCH_READ_TOKEN" http://127.0.0.1:${port}/api/v1/records/TE-000000001
      Rejections      curl -H "Authorization: Bearer \$SYNCWATCH_READ_TOKEN" http://127.0.0.1:${port}/api/v1/quarantine
      Own metrics     curl -H "Authorization: Bearer \$SYNCWATCH_READ_TOKEN" http://127.0.0.1:${port}/metrics
    Simulated systems http://127.0.0.1:${api_port}/docs   (faults: syncwatch simulate fault list)
    Probes            ${SYNCWATCH_PROBES_CONFIG} samples those systems (syncwatch probes list)
  Tokens: ${tokens}. Stop with Ctrl-C.

TXT
# 30 days of warm-up: every SLO window holds a whole month, as a running firm's does (7 days put the whole
# window in a month-start week, whose posting failures read red on a healthy firm).
$SW simulate live --consultants 500 --speed 60 --warmup-days 30 --base-url "http://127.0.0.1:${port}" \
  --token "$SYNCWATCH_INGEST_TOKEN" --api-port "$api_port" &
sim=$!
wait $sim
