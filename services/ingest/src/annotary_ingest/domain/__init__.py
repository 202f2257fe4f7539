"""Pure rules of ingest: input checks, content identity, the import file format. No I/O."""
