"""Annotary orchestrator: items' task state, leases, overlap and the item state machine."""
