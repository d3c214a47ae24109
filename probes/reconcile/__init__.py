"""Built-in reconciliation probes: each samples two or more systems' state and reports what did NOT happen."""

from probes.reconcile.catalogue import BUILTIN_PROBES, BuiltinProbe

__all__ = ["BUILTIN_PROBES", "BuiltinProbe"]
