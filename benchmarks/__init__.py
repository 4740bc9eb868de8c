"""Benchmarks and the reference-network helpers shared with the tests (not installed)."""
