"""Every operation of the OpenAPI description, called with generated parameters and bodies by schemathesis and a
valid token of each scope, answers without a 5xx and within its documented response schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from syncwatch.tokens import create_token
from syncwatch.warehouse import apply_migrations, connect
from tests.conftest import make_settings
from tests.integration.collector.running import running

SCOPES = ("ingest", "read", "admin")
EXAMPLES = 40  # per operation, each sent once per scope: the whole run stays near a minute on two cores


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    # generated requests include missing and wrong tokens; the per-IP 401 limit is tested in test_connections.py
    config = make_settings(tmp_path_factory.mktemp("contract"), unauthenticated_burst=1_000_000)
    client = connect(config)
    apply_migrations(client, config.retention_days)
    # a random suffix: DELETE /admin/tokens/{name} with a generated name must not revoke the test's own tokens
    suffix = uuid.uuid4().hex
    tokens = {scope: create_token(client, f"{scope}-{suffix}", [scope])[1] for scope in SCOPES}
    try:
        with running(config) as url:
            yield url, tokens
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{config.database}`")


def test_no_operation_answers_5xx_or_outside_its_schema(api: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, tokens = api
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20  # the stages' routes are all there

    for operation in operations:
        # negative mode too: wrong types, out-of-range numbers, malformed instants are where the 500s were
        @given(case=operation.as_strategy() | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as it came
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            for scope in SCOPES:
                response = case.call(base_url=url, headers={"Authorization": f"Bearer {tokens[scope]}"}, timeout=60)
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            call()
        except Exception as exc:  # every operation runs; all failures are listed at the end
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
