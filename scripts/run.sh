#!/usr/bin/env bash
# `make run`: the collector on the embedded warehouse, with demo tokens kept in var/demo-tokens.env.
set -euo pipefail
cd "$(dirname "$0")/.."
SW=.venv/bin/syncwatch
mkdir -p var
tokens=var/demo-tokens.env
if [ ! -s "$tokens" ]; then
  umask 077
  ingest=$($SW token create --name demo-ingest --scope ingest 2>/dev/null)
  read=$($SW token create --name demo-read --scope read 2>/dev/null)
  printf 'SYNCWATCH_INGEST_TOKEN=%s\nSYNCWATCH_READ_TOKEN=%s\n' "$ingest" "$read" > "$tokens"
fi
port=${SYNCWATCH_PORT:-4318}
cat <<TXT

  SyncWatch collector on http://127.0.0.1:${port}
    OTLP traces      POST /v1/traces   (stock OTLP/HTTP exporters work with their default endpoint)
    CloudEvents      POST /v1/events
    Record journey   GET  /api/v1/records/{key}
    API docs         http://127.0.0.1:${port}/docs
  Demo tokens (ingest and read) are in ${tokens}. Stop with Ctrl-C.

TXT
exec $SW serve
