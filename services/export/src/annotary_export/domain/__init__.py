"""Pure rules of export: accepted items, label schemas and the file formats. No I/O."""
