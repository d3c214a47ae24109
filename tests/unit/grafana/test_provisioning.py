"""Grafana as code: the provisioning files are valid, every panel names a provisioned datasource by uid, and the
committed dashboards are exactly what grafana/build.py writes."""

from __future__ import annotations

import importlib.util
from typing import Any

import yaml

from tests.grafana_dashboards import DASHBOARDS, ROOT, dashboards, targets, variables

PROVISIONING = ROOT / "grafana" / "provisioning"


def _build() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_build", ROOT / "grafana" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _datasources() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "syncwatch.yaml").read_text())
    assert doc["apiVersion"] == 1
    return {d["uid"]: d for d in doc["datasources"]}


def test_datasources_have_fixed_uids_and_no_literal_secret() -> None:
    found = _datasources()
    assert set(found) == {"syncwatch-prometheus", "syncwatch-clickhouse"}
    prometheus, clickhouse = found["syncwatch-prometheus"], found["syncwatch-clickhouse"]
    assert prometheus["type"] == "prometheus" and prometheus["url"].startswith("${")
    assert clickhouse["type"] == "grafana-clickhouse-datasource"
    assert {"host", "port", "protocol", "username", "defaultDatabase"} <= set(clickhouse["jsonData"])
    assert clickhouse["jsonData"]["protocol"] == "http"
    password = clickhouse["secureJsonData"]["password"]
    assert password.startswith(("${", "$__env{")) and password.endswith("}")


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "syncwatch.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_committed_dashboards_are_what_the_script_writes() -> None:
    build = _build()
    assert sorted(build.DASHBOARDS) == sorted(p.name for p in DASHBOARDS.glob("*.json"))
    stale = [name for name, fn in build.DASHBOARDS.items() if (DASHBOARDS / name).read_text() != build.render(fn)]
    assert stale == [], "run: python grafana/build.py"


def test_every_panel_and_variable_uses_a_provisioned_datasource() -> None:
    provisioned = {uid: d["type"] for uid, d in _datasources().items()}
    for name, dashboard in dashboards().items():
        refs = [panel["datasource"] for panel in dashboard["panels"]]
        refs += [target["datasource"] for _, target in targets(dashboard)]
        refs += [v["datasource"] for v in variables(dashboard)]
        for ref in refs:
            assert provisioned.get(ref["uid"]) == ref["type"], (name, ref)


def test_targets_are_complete_queries() -> None:
    for name, dashboard in dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel, target in targets(dashboard):
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            if target["datasource"]["uid"] == "syncwatch-clickhouse":
                assert target["editorType"] == "sql" and target["format"] in (0, 1), (name, panel["title"])
                assert target["rawSql"].lstrip().startswith(("SELECT", "WITH")), (name, panel["title"])
            else:
                assert target["expr"], (name, panel["title"])
        assert len({p["title"] for p in dashboard["panels"]}) == len(ids), f"{name}: two panels with one title"


def test_dashboards_have_the_documented_titles() -> None:
    titles = {d["title"] for d in dashboards().values()}
    assert titles == {"SyncWatch — SLOs", "SyncWatch — Records and flows", "SyncWatch — Collector"}
