"""Benchmarks: ``scripts/bench <name>`` runs ``python -m bench.<name>`` (not part of the tests)."""

from pathlib import Path

# The checkout the benchmarks run from: they read tests/data and write docs/.
ROOT = Path(__file__).resolve().parents[1]
