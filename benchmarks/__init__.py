"""Benchmarks: every speed or accuracy claim measured side by side in one run."""
