"""Benchmarks of the platform (bench/README.md)."""
