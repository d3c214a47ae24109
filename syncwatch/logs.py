"""Structured logs: one JSON object per line on stderr, with no secret in any line.

Delivery URLs carry credentials (a Slack webhook's path, a generic webhook's `?token=`, `user:password@`), so:
third-party HTTP loggers that print every request URL at INFO are held at WARNING, every URL SyncWatch logs
itself goes through `redact_url`, and the handler redacts any URL left in a line as a last resort.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from urllib.parse import SplitResult, parse_qsl, urlsplit

import orjson

__all__ = ["QUIET_LOGGERS", "ROUTINE_LOGGERS", "configure_logging", "quiet_third_party", "redact_text", "redact_url"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
MASK = "***"
# httpx and httpcore log each request's full URL at INFO/DEBUG; urllib3 its connection URLs at DEBUG.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "hpack")
# A path segment after one of these is the credential itself (Slack /services/T/B/X, Discord /api/webhooks/id/token,
# Teams /webhookb2/..., Mattermost and Rocket.Chat /hooks/..., PagerDuty-style /integration/KEY).
_SECRET_AFTER = frozenset({"services", "webhooks", "webhookb2", "hooks", "integration", "token", "tokens", "keys",
                           "key", "secret", "secrets", "incomingwebhook"})  # fmt: skip
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")


def _secret_like(segment: str) -> bool:
    """A long random token: 16+ characters mixing letters and digits (ids, keys, signatures, UUIDs)."""
    return len(segment) >= 16 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def redact_url(url: str) -> str:
    """The URL fit for a log line: no userinfo, no query values, no fragment, secret path segments masked.

    Relative URLs (a path and query) are redacted the same way.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    segments, masking = [], False
    for segment in parts.path.split("/"):
        if segment and (masking or _secret_like(segment)):
            segments.append(MASK)
        else:
            segments.append(segment)
        masking = masking or segment.lower() in _SECRET_AFTER
    query = "&".join(f"{key}={MASK}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = MASK
    return SplitResult(parts.scheme, netloc, "/".join(segments), query, "").geturl()


def redact_text(text: str) -> str:
    """Free text (an exception message, a receiver's answer) with every absolute URL in it redacted."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class _RedactingFilter(logging.Filter):
    """The last line of defence: a URL that reached a log line anyway leaves it redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        return True


class _AccessLogFilter(logging.Filter):
    """uvicorn's access line carries the request's path and query: secrets passed as query values stay out."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_url(args[2]), *args[3:])
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                entry[key] = redact_text(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class _Routine(logging.Filter):
    """The scheduler's INFO lines ("Running job ...", "... executed successfully", two a second with the alert
    dispatch) are routine: they become DEBUG, shown only when the root logger shows DEBUG. Its warnings (a run
    missed or skipped because the previous one is still going: a slow job) and errors (a job that raised, one line
    with the traceback in `exc`) keep their level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


# apscheduler 3 logs each run on these two loggers (a filter applies to records of its own logger only)
ROUTINE_LOGGERS = ("apscheduler.scheduler", "apscheduler.executors.default")


def quiet_third_party() -> None:
    """Hold the loggers that print request URLs at WARNING (their warnings and errors still show)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _AccessLogFilter) for f in access.filters):
        access.addFilter(_AccessLogFilter())
    for name in ROUTINE_LOGGERS:
        routine = logging.getLogger(name)
        if not any(isinstance(f, _Routine) for f in routine.filters):
            routine.addFilter(_Routine())


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    quiet_third_party()
