import pytest

from syncwatch.vocabulary import CATALOGUE, canonical_type


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("time_entry.posted", "time_entry.posted"),
        ("com.acme.psa.time_entry.posted.v1", "time_entry.posted"),
        ("com.kantata.psa.timesheet.approved.v12", "timesheet.approved"),
        ("invoice.ready.v2", "invoice.ready"),
        ("com.acme.thing.happened", None),
        ("posted", None),
        ("time_entry.posted.vX", None),
    ],
)
def test_prefixed_and_versioned_names_map_to_canonical_types(received: str, expected: str | None) -> None:
    assert canonical_type(received) == expected


def test_alias_map_wins_over_the_name() -> None:
    assert canonical_type("TimeCardPosted", {"TimeCardPosted": "time_entry.posted"}) == "time_entry.posted"
    assert canonical_type("TimeCardPosted") is None


def test_catalogue_covers_domain_section_3() -> None:
    assert len(CATALOGUE) == 27
    assert CATALOGUE["time_entry.posted"]["erp_document_id"] == "string"
    assert CATALOGUE["time_entry.post_failed"]["retryable"] == "boolean"
    assert "erp_invoice_number" in CATALOGUE["invoice.posted"]
