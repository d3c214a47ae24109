"""SyncWatch spine: settings, the ClickHouse warehouse, the canonical event vocabulary and the CLI."""

__all__ = ["__version__"]
__version__ = "0.1.0"
