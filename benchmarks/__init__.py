"""sweepstack's benchmarks, side by side with execo_engine and curifactory.

Run them all with ``python -m benchmarks.run`` (``--quick`` for a short pass); the
results are written to ``BENCHMARKS.md``.
"""
