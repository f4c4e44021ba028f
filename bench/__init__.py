"""Benchmarks: bench/run.py (engines) and bench/endpoint.py (endpoints)."""
