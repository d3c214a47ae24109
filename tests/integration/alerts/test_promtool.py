"""`syncwatch rules export` output passes the real promtool: check rules, and the shipped cases of rules firing
on the evaluator's verdicts (`for`, `keep_firing_for`, the alert's labels, the guards on missing verdicts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.config import load_config
from syncwatch.cli import app

pytestmark = pytest.mark.integration
CASES = Path(__file__).resolve().parents[2] / "unit" / "alerts" / "promtool" / "verdict_rules_test.yaml"


def test_exported_rules_pass_promtool_check_and_test(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    result = CliRunner().invoke(app, ["rules", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    check = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # every rule of the default file, and the two guards on the verdicts themselves
    assert f"SUCCESS: {len(load_config().rules) + 2} rules found" in check.stdout
    shutil.copy(CASES, tmp_path / CASES.name)
    test = subprocess.run(["promtool", "test", "rules", str(tmp_path / CASES.name)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout


def test_rules_check_names_rule_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - {name: X, kind: sli, sli: s, severity: loud, team: t, runbook_url: 'https://r', summary: s}\n"
    )
    result = CliRunner().invoke(app, ["rules", "check", "--config", str(bad)])
    assert result.exit_code == 2
    assert "rule 'X', field 'severity'" in result.output.replace("\n", "")
