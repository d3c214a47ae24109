"""The maintenance job reads healed problems only for the cases still open on them: a refusal that healed before
the job saw it, or whose case is closed, is not read again, so a run's work is the open problems, not the whole
retention's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cases.keeper import CaseKeeper
from syncwatch.settings import Settings
from tests.conftest import ThreadedCollector, Tokens
from tests.integration.exceptions.test_cases_from_hand_built_logs import rejection
from tests.integration.metrics.test_hand_built_logs import posting, send

pytestmark = pytest.mark.integration

FRIDAY = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def quiet(tokens: Tokens, settings: Settings) -> Iterator[ThreadedCollector]:
    with ThreadedCollector(Settings(**{**settings.model_dump(), "exceptions_maintenance_seconds": 0})) as running:
        yield running


def test_healed_refusals_are_read_only_while_their_case_is_open(quiet: ThreadedCollector, tokens: Tokens) -> None:
    keeper = quiet.app.state.exceptions.keeper
    assert isinstance(keeper, CaseKeeper)
    later = FRIDAY + timedelta(hours=1)
    send(quiet, tokens, [rejection("E1", FRIDAY, 100.0, "PERIOD_CLOSED"),
                         posting("time_entry.posted", "E1", later, 100.0, attempt=2)])  # fmt: skip
    healed_unseen = keeper.maintain()
    assert (healed_unseen.evidence, healed_unseen.changed) == (0, 0)  # healed before the job saw it: not even read

    send(quiet, tokens, [rejection("E2", FRIDAY, 200.0, "INVALID_PROJECT_OR_ASSIGNMENT")])
    opened = keeper.maintain()
    assert (opened.evidence, opened.audit) == (1, {"opened": 1})
    send(quiet, tokens, [posting("time_entry.posted", "E2", FRIDAY + timedelta(hours=2), 200.0, attempt=2)])
    closing = keeper.maintain()
    assert (closing.evidence, closing.audit) == (1, {"auto_resolved": 1})  # read once more, to close its case
    after = keeper.maintain()
    assert (after.evidence, after.changed) == (0, 0)
