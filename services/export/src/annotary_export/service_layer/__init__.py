"""Handlers of export: functions taking a connection or the pool (and the object store)."""
