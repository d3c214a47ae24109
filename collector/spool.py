"""On-disk spool: batches the warehouse could not take are written here, fsynced, before they are acknowledged.

One file per batch (a JSON header line, then the JSON rows), written to a temporary name, fsynced and renamed,
so a crash leaves either a whole batch or none. Rows the quarantine table itself refused are set aside in
`refused/`, one file per batch with the engine's message on each row, for an operator to read. Files are
replayed oldest first and deleted only after the warehouse took them; each keeps the insert_deduplication_token
of its batch, so a replay of a batch that did land after all is stored once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["Spool", "SpooledBatch"]


@dataclass(frozen=True)
class SpooledBatch:
    path: Path
    table: str
    token: str
    rows: list[bytes]


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.tmp"):  # a crash mid-write: that batch was never acknowledged
            leftover.unlink()
        self._sequence = 0

    def write(self, table: str, token: str, rows: list[bytes]) -> Path:
        self._sequence += 1
        name = f"{time.time_ns():020d}-{self._sequence:06d}-{table}.json"
        final = self.directory / name
        temporary = final.with_suffix(".tmp")
        payload = b"\n".join([orjson.dumps({"table": table, "token": token}), *rows])
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        _fsync_dir(self.directory)
        return final

    def set_aside(self, table: str, token: str, refused: list[tuple[bytes, str]]) -> Path:
        """Rows no table would take, kept on disk with the engine's message (the last place that keeps them)."""
        folder = self.directory / "refused"
        folder.mkdir(exist_ok=True)
        lines = [orjson.dumps({"table": table, "token": token})]
        lines += [orjson.dumps({"error": message, "row": row.decode("utf-8", "replace")}) for row, message in refused]
        path = folder / f"{time.time_ns():020d}-{table}.json"
        with open(path, "wb") as handle:
            handle.write(b"\n".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def oldest_age_seconds(self) -> float:
        """How long the oldest spooled batch has waited (0 with none): a stuck spool shows here first."""
        pending = self.pending()
        if not pending:
            return 0.0
        return max(0.0, (time.time_ns() - int(pending[0].name[:20])) / 1e9)

    def pending(self, table: str | None = None) -> list[Path]:
        files = sorted(self.directory.glob("*.json"))
        return [f for f in files if table is None or f.name.endswith(f"-{table}.json")]

    def read(self, path: Path) -> SpooledBatch:
        header, *rows = path.read_bytes().split(b"\n")
        meta = orjson.loads(header)
        return SpooledBatch(path, meta["table"], meta["token"], rows)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        _fsync_dir(self.directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
