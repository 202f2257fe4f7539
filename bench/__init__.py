"""Annotary's benchmark harness: ``make bench`` (or ``python -m bench.run``) prints one JSON document."""
