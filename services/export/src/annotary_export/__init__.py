"""Annotary export service: accepted annotations in, dataset files out."""
