"""Handlers: database work and outbox events, one transaction each."""
