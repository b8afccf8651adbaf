"""Benchmarks: each writes its section of bench/RESULTS.md with the machine and date."""
