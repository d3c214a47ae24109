"""The SLIs of domain.md section 4, one module per business area, looked up by name."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from metrics.catalogue import Sli
from metrics.slis import billing, exceptions, flows, master_data, pickup, posting, rejections, workforce

__all__ = ["NAMES", "build_registry"]


def build_registry(cadences: Mapping[str, timedelta] | None = None) -> dict[str, Sli]:
    slis: tuple[Sli, ...] = (
        posting.FirstPass(),
        posting.Eventual(),
        billing.InvoiceReadiness(),
        workforce.ResourcePlanFreshness(),
        master_data.MasterDataConsistency(),
        posting.DuplicateSubmissions(),
        billing.UnbilledWip(),
        exceptions.ExceptionSla(),
        posting.BillingSyncLatency(),
        master_data.RateCardExposure(),
        exceptions.DeadLetterBacklog(),
        flows.FlowSilence(cadences),
        pickup.ConnectorPickup(),
        rejections.RejectionBurst(),
    )
    return {sli.definition.name: sli for sli in slis}


NAMES: tuple[str, ...] = tuple(build_registry())
