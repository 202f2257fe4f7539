"""Handlers of ingest: functions taking the pool and the object store."""
