"""Benchmarks and stress generators; importable by the tests (``from bench.hostile_inputs import ...``)."""
