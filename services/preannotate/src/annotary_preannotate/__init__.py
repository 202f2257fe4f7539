"""Annotary preannotate service: predictions per item and model version (model plugins come later)."""
