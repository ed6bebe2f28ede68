"""Benchmarks: `python -m bench --db sqlite|postgres --workers N` (see README)."""
