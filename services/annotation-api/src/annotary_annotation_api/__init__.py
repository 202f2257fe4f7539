"""Annotary web gateway: REST API, auth and the web UI."""
