"""Annotary ingest service: owns items (canonical id, metadata, pointer to the stored media)."""
