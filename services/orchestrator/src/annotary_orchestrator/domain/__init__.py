"""Pure rules of the orchestrator: no I/O."""
