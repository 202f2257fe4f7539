"""Handlers: functions taking a connection, doing the DB work and staging events in the outbox."""
