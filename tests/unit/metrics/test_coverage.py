"""Coverage arithmetic and the `partial` status: at, below and above the threshold, and never `ok` with more left
out than the threshold allows (a property over generated readings)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.coverage import Coverage, LeftOut, flow_coverage
from metrics.evaluate import status_of, with_coverage


def test_share_left_out_exactly_at_the_threshold_is_complete() -> None:
    at = Coverage(99.0, {"unknown_billing_type": LeftOut(1)})
    assert at.ratio == pytest.approx(0.99)
    assert not at.short(0.01)
    assert with_coverage("ok", at, 0.01) == "ok"


def test_below_and_above_the_threshold() -> None:
    below = Coverage(999.0, {"no_project_named": LeftOut(1)})
    above = Coverage(97.0, {"no_project_named": LeftOut(3)})
    assert with_coverage("ok", below, 0.01) == "ok"
    assert with_coverage("ok", above, 0.01) == "partial"
    assert with_coverage("no_data", Coverage(0.0, {"no_project_named": LeftOut(1)}), 0.01) == "partial"
    assert with_coverage("no_data", Coverage(0.0), 0.01) == "no_data"  # truly nothing
    assert with_coverage("breach", above, 0.01) == "breach"  # what was measured is bad already
    assert with_coverage("warning", above, 0.01) == "warning"


def test_money_left_out_counts_per_currency_never_converted() -> None:
    # One record in a thousand, but 5% of the euros: partial.
    cov = Coverage(999.0, {"unknown_billing_type": LeftOut(1, {"EUR": 5000.0})},
                   money_included={"EUR": 95000.0, "USD": 1000.0})  # fmt: skip
    assert cov.money_ratios() == {"EUR": pytest.approx(0.95), "USD": 1.0}
    assert cov.lowest_ratio() == pytest.approx(0.95)
    assert cov.short(0.01)
    assert cov.as_json(0.01)["complete"] is False


def test_a_flow_counts_a_record_left_out_of_two_of_its_slis_once() -> None:
    left = {"unknown_billing_type": {"count": 3, "money": {"EUR": 900.0}}}
    flows = flow_coverage({
        "invoice_readiness_lag": ("psa-to-erp-time", {"complete": False, "left_out": left}),
        "unbilled_wip_at_risk": ("psa-to-erp-time", {"complete": False, "left_out": left}),
        "resource_plan_freshness": ("hcm-to-psa-workers", {"complete": True, "left_out": {}}),
    })  # fmt: skip
    assert flows[0] == {"flow": "psa-to-erp-time", "slis": ["invoice_readiness_lag", "unbilled_wip_at_risk"],
                        "left_out": left, "complete": False}  # fmt: skip
    assert flows[1]["complete"] is True


@given(
    value=st.one_of(st.none(), st.floats(0, 10)),
    included=st.integers(0, 10_000),
    left=st.dictionaries(st.sampled_from(["no_project_named", "unknown_billing_type", "no_approval_known"]),
                         st.integers(0, 500), max_size=3),
    money_in=st.floats(0, 1e6),
    money_out=st.floats(0, 1e6),
    partial_above=st.floats(0, 0.5),
)  # fmt: skip
def test_no_sli_reads_ok_while_it_left_out_more_than_the_threshold(
    value: float | None, included: int, left: dict[str, int], money_in: float, money_out: float,
    partial_above: float,
) -> None:  # fmt: skip
    cov = Coverage(
        float(included),
        {reason: LeftOut(n, {"EUR": money_out} if n else {}) for reason, n in left.items()},
        money_included={"EUR": money_in},
    )
    status = with_coverage(status_of(value, "<=", 3.0, None), cov, partial_above)
    missing = sum(left.values())
    records_short = missing and 1 - included / (included + missing) > partial_above
    money_short = missing and money_in + money_out > 0 and money_out / (money_in + money_out) > partial_above
    if records_short or money_short:
        assert status != "ok"
    if status == "no_data":
        assert cov.missing == 0
