"""Docs kept true by the code they describe."""

from __future__ import annotations

from pathlib import Path

from syncwatch.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`SYNCWATCH_{name.upper()}`" not in text]
    assert missing == []
    assert all(field.description for field in Settings.model_fields.values())


def test_every_rejection_reason_is_documented() -> None:
    import re

    text = (DOCS / "events.md").read_text()
    source = "".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "collector").glob("*.py"))
    reasons = set(re.findall(r'Rejection\(\s*"([a-z_0-9]+)"', source))
    assert len(reasons) >= 12
    assert sorted(r for r in reasons if f"`{r}`" not in text) == []
