"""Pure rules on predictions: no I/O."""
