"""Collector: OTLP traces and CloudEvents in, the read API out."""
