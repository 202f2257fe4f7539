"""Shared plumbing for Annotary services."""
