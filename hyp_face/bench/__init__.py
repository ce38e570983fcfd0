"""Benchmarks (not timed tests); results are recorded in the README."""
