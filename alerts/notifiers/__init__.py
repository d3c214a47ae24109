"""Notifiers: one module per integration, all behind `Notifier` (base.py); `build_notifier` picks one."""

from __future__ import annotations

from alerts.notifiers.base import Delivery, Message, Notifier, deliver
from alerts.notifiers.factory import build_notifier

__all__ = ["Delivery", "Message", "Notifier", "build_notifier", "deliver"]
