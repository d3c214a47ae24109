"""Probes: scheduled samplers of the systems' own state that report what did NOT happen (docs/probes.md).

Layout: interfaces.py (what a probe is) · model.py (outcomes, findings, runs) · errors.py (the error tree) ·
transport.py, auth.py, secrets.py, budget.py (calling a system safely) · adapters/ (API styles) ·
reconcile/ (built-in probes) · declarative.py, jsonpath.py, config.py (the probes file) · runner.py, fleet.py
(running) · store.py, tracing.py, exposition.py, api.py, component.py, cli.py (where results go).
"""

from probes.errors import ProbeError
from probes.model import FINDING_KINDS, Finding, Outcome, ProbeRun

__all__ = ["FINDING_KINDS", "Finding", "Outcome", "ProbeError", "ProbeRun"]
