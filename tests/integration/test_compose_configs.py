"""The configuration files compose.yaml mounts pass their own tools: Prometheus's config and rule file
(promtool), Alertmanager's config (amtool). The rule file is what `syncwatch rules export` writes today."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from syncwatch.cli import app

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_prometheus_config_and_its_rule_file_pass_promtool(tmp_path: Path) -> None:
    # --syntax-only: the token file is a compose secret that exists only inside the container
    _run("promtool", "check", "config", "--syntax-only", str(DEPLOY / "prometheus.yml"))
    assert "SUCCESS" in _run("promtool", "check", "rules", str(DEPLOY / "syncwatch-rules.yml"))
    exported = tmp_path / "rules.yml"
    result = CliRunner().invoke(app, ["rules", "export", "--out", str(exported)])
    assert result.exit_code == 0, result.output
    committed = yaml.safe_load((DEPLOY / "syncwatch-rules.yml").read_text())
    assert committed == yaml.safe_load(exported.read_text()), (
        "re-export: syncwatch rules export --out deploy/syncwatch-rules.yml"
    )


def test_alertmanager_config_passes_amtool() -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool missing: make test installs the Debian prometheus-alertmanager package"
    assert "SUCCESS" in _run(amtool, "check-config", str(DEPLOY / "alertmanager.yml"))
