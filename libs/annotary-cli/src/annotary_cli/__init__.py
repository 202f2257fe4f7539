"""The annotary command and the embedded stack launcher."""
