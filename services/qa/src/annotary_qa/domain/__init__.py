"""Pure quality rules: no I/O."""
