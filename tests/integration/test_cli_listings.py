"""Listings as a newcomer reads them: the real `syncwatch` at 80 and 200 columns cuts no value, and `--json`
carries every field. Piped output (as here) prints each row at full width; a terminal wraps within its width."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncwatch.cli import app

pytestmark = pytest.mark.integration

SYNCWATCH = str(Path(sys.executable).parent / "syncwatch")
ROOT = Path(__file__).resolve().parents[2]
LONG_NAMES = [
    "psa-to-erp-time-entries-connector-for-the-northern-tenant-0042",
    "crm-opportunity-to-psa-project-handover-connector-emea-apac",
]


def _run(args: list[str], workdir: Path, columns: int, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SYNCWATCH, *args],
        cwd=workdir,
        env={
            **os.environ,
            "SYNCWATCH_CLICKHOUSE_URL": "chdb://./var/warehouse",
            "COLUMNS": str(columns),
            "SIM_CLIENT_SECRET": "sim-client-secret",
            "SIM_API_KEY": "sim-api-key",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _uncut(output: str, values: list[str]) -> None:
    assert "…" not in output and "..." not in output
    for value in values:
        assert any(value in line for line in output.splitlines()), f"{value!r} is cut or split:\n{output}"


def test_token_list_shows_whole_names_at_any_width_and_every_field_as_json(tmp_path: Path) -> None:
    for name in LONG_NAMES:
        _run(["token", "create", "--name", name, "--scope", "ingest", "--scope", "read"], tmp_path, 80)
    for columns in (80, 200):
        _uncut(_run(["token", "list"], tmp_path, columns).stdout, [*LONG_NAMES, "ingest, read"])
    listed = json.loads(_run(["token", "list", "--json"], tmp_path, 80).stdout)
    assert sorted(t["name"] for t in listed) == sorted(LONG_NAMES)
    for token in listed:
        assert set(token) == {"name", "scopes", "created_at", "revoked_at"}
        assert token["scopes"] == ["ingest", "read"] and token["created_at"] > 0 and token["revoked_at"] is None


def test_probes_list_is_readable_at_80_columns_and_complete_as_json(tmp_path: Path) -> None:
    config = {"SYNCWATCH_PROBES_CONFIG": str(ROOT / "probes" / "examples" / "simulated-estate.yaml")}
    as_json = json.loads(_run(["probes", "list", "--json"], tmp_path, 80, **config).stdout)
    probes = as_json["probes"]
    assert probes and set(as_json) >= {"probes", "skipped", "config_error"}
    for p in probes:
        assert set(p) >= {"name", "systems", "interval_seconds", "timeout_seconds", "cost", "last_run", "stale"}
    for columns in (80, 200):
        out = _run(["probes", "list"], tmp_path, columns, **config).stdout
        _uncut(out, [p["name"] for p in probes] + ["(collector not running)"])
        for p in probes:
            row = next(line for line in out.splitlines() if f" {p['name']} " in line)
            assert ", ".join(p["systems"]) in row and f"{p['interval_seconds']:g} s" in row


def test_rules_check_at_80_and_200_columns_and_as_json() -> None:
    runner = CliRunner()
    as_json = runner.invoke(app, ["rules", "check", "--json"], env={"COLUMNS": "80"})
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.stdout)
    rules = answer["rules"]
    assert rules and answer["receivers"]
    for rule in rules:
        assert {"name", "kind", "severity", "team", "for", "summary", "runbook_url", "labels"} <= set(rule)
    for columns in ("80", "200"):
        shown = runner.invoke(app, ["rules", "check"], env={"COLUMNS": columns})
        assert shown.exit_code == 0, shown.output
        _uncut(shown.stdout, [r["name"] for r in rules] + [r["team"] for r in rules])


def test_at_a_terminal_a_table_fits_its_width_and_folds_instead_of_cutting(tmp_path: Path) -> None:
    for name in LONG_NAMES:
        _run(["token", "create", "--name", name, "--scope", "ingest"], tmp_path, 80)
    # FORCE_COLOR makes rich treat the pipe as a terminal of COLUMNS width
    shown = re.sub(r"\x1b\[[0-9;]*m", "", _run(["token", "list"], tmp_path, 80, FORCE_COLOR="1").stdout)
    lines = shown.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    assert "…" not in shown
    first_column = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert first_column == "".join(sorted(LONG_NAMES))
