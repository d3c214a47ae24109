"""compose.yaml and the image checked statically (no Docker engine on these machines): images pinned, start order
by health, every SYNCWATCH_* variable a real setting, every mounted file in the repository, secrets only from outside;
the image built from a base pinned by digest and the hashed lock, the locks pinning all that pyproject.toml asks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY", re.IGNORECASE)


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def _settings_variables() -> set[str]:
    return {f"SYNCWATCH_{name.upper()}" for name in Settings.model_fields}


def test_every_service_has_a_pinned_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"clickhouse", "collector", "dashboard", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name
            continue
        image = service["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest" and re.match(r"v?\d+\.\d+", tag), f"{name}: unpinned image {image}"


def test_dependants_wait_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"
    assert "clickhouse" in services["collector"]["depends_on"]
    assert "collector" in services["dashboard"]["depends_on"]


def test_syncwatch_variables_are_real_settings(services: dict[str, dict[str, Any]]) -> None:
    known = _settings_variables()
    used = {key for s in services.values() for key in s.get("environment", {}) if key.startswith("SYNCWATCH_")}
    dockerfile = (ROOT / "Dockerfile").read_text()
    used |= set(re.findall(r"\b(SYNCWATCH_[A-Z_]+)=", dockerfile))
    example = (ROOT / ".env.example").read_text()
    used |= set(re.findall(r"^(SYNCWATCH_[A-Z_]+)=", example, re.MULTILINE))
    assert sorted(used - known) == []
    collector = services["collector"]["environment"]
    assert collector["SYNCWATCH_HOST"] == "0.0.0.0"
    assert re.match(r"http://[^@]+@clickhouse:8123$", collector["SYNCWATCH_CLICKHOUSE_URL"])
    Settings(clickhouse_url=collector["SYNCWATCH_CLICKHOUSE_URL"])  # a scheme the settings accept
    assert services["dashboard"]["command"] == ["syncwatch", "dashboard"]
    assert services["dashboard"]["environment"]["SYNCWATCH_DASHBOARD_API_URL"] == "http://collector:4318"


def test_interpolated_variables_are_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    example = set(re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert sorted(used - example) == []


def test_no_literal_secrets(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert str(value).startswith("${"), f"{name}: {key} must come from the environment"
    example = (ROOT / ".env.example").read_text()
    assert re.findall(r"^\w*PASSWORD=(.+)$", example, re.MULTILINE) == []


def test_mounted_files_exist_and_secrets_stay_out_of_git(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, missing from the repository"
    compose = yaml.safe_load(COMPOSE.read_text())
    ignored = (ROOT / ".gitignore").read_text().split()
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/") and "secrets/" in ignored


def test_clickhouse_service_follows_the_image_conventions(services: dict[str, dict[str, Any]]) -> None:
    clickhouse = services["clickhouse"]
    assert clickhouse["image"].startswith("clickhouse/clickhouse-server:")
    assert {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"} <= set(clickhouse["environment"])
    assert clickhouse["ulimits"]["nofile"] == {"soft": 262144, "hard": 262144}
    assert "/ping" in " ".join(clickhouse["healthcheck"]["test"])


def test_grafana_preinstalls_a_pinned_clickhouse_plugin(services: dict[str, dict[str, Any]]) -> None:
    plugin = services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    assert re.fullmatch(r"grafana-clickhouse-datasource@\d+\.\d+\.\d+", plugin)


def test_prometheus_reads_the_mounted_rules_and_token(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    mounted = {v.split(":")[1] for v in prometheus["volumes"] if v.startswith("./")}
    for rule_file in config["rule_files"]:
        assert f"/etc/prometheus/{rule_file}" in mounted
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "syncwatch"]
    assert job["static_configs"][0]["targets"] == ["collector:4318"]
    token_file = job["authorization"]["credentials_file"]
    assert token_file.removeprefix("/run/secrets/") in prometheus["secrets"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def _pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name.lower()): version for name, version in found}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower()) for r in requirements}


def test_the_image_builds_from_a_digest_and_the_runtime_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    (project,) = re.findall(r"^RUN pip install (.*) \.(?: |$)", dockerfile, re.MULTILINE)
    assert "--no-deps" in project  # everything else comes from the lock
    assert "requirements.lock" not in (ROOT / ".dockerignore").read_text()


def test_the_locks_pin_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, test = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-test.lock")
    assert sorted(_requirement_names(project["dependencies"]) - set(runtime)) == []
    assert sorted(_requirement_names(project["optional-dependencies"]["test"]) - set(test)) == []
    assert {name: test.get(name) for name in runtime} == runtime  # the tests run what the image runs
    for lock in ("requirements.lock", "requirements-test.lock"):
        text = (ROOT / lock).read_text()
        assert all("--hash=sha256:" in block for block in re.split(r"\n(?=[A-Za-z0-9])", text) if "==" in block), lock
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r requirements-test.lock" in makefile
    assert "requirements-test.lock" in makefile.split("STAMP", 2)[1]  # a change of the lock installs again
