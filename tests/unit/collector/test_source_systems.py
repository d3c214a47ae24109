"""An event's system: its `sourcesystem` extension, else its `source` prefix (SYNCWATCH_SOURCE_SYSTEMS), else
unknown."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from collector.events import EventRows, EventRules
from syncwatch.settings import Settings
from tests.factories import event

NOW_US = 1_800_000_000_000_000


def _row(rules: EventRules, **attrs: object) -> dict[str, object]:
    rows = EventRows(rules, NOW_US, "t")
    when = "2027-01-15T08:00:00Z"
    assert rows.add(event("project.created", time=when, **attrs)) == "project.created"
    return rows.rows[0]


@pytest.mark.parametrize(
    ("source", "system"),
    [("//psa/kantata/acme", "psa"), ("/erp/netsuite/eu", "erp"), ("//crm/sf", "crm"), ("/hcm/workday/x", "hcm"),
     ("/middleware/boomi/psa-to-erp-time", "middleware"), ("https://psa.example.com/x", ""), ("/psax/y", "")],
)  # fmt: skip
def test_default_prefixes_name_the_usual_shapes(source: str, system: str) -> None:
    row = _row(EventRules({}, 300, 3650, 8), source=source)
    assert row.get("source_system", "") == system


def test_the_extension_wins_over_the_prefix() -> None:
    row = _row(EventRules({}, 300, 3650, 8), source="//psa/kantata/acme", sourcesystem="erp")
    assert row["source_system"] == "erp"


def test_configured_prefixes_replace_the_defaults_and_the_longest_wins() -> None:
    rules = EventRules({}, 300, 3650, 8, {"https://acme.kantata.com/": "psa", "https://acme.kantata.com/erp/": "erp"})
    assert _row(rules, source="https://acme.kantata.com/api/v1")["source_system"] == "psa"
    assert _row(rules, source="https://acme.kantata.com/erp/gl")["source_system"] == "erp"
    assert "source_system" not in _row(rules, source="//psa/kantata/acme")  # the defaults are replaced
    # A parse worker gets the rules without the memo, and answers the same.
    again = pickle.loads(pickle.dumps(rules))
    assert again.system_of("https://acme.kantata.com/erp/gl") == "erp"


def test_a_bad_map_is_refused_naming_the_prefix() -> None:
    with pytest.raises(ValidationError, match="system must be a lower-case name"):
        Settings(source_systems={"//psa/": "PSA System"})
    with pytest.raises(ValidationError, match="must not be empty"):
        Settings(source_systems={"": "psa"})
