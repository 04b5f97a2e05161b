"""Reproducible speed measurements of wavebeans-nb; run each module with ``python -m benchmarks.<name>``."""
