"""Annotary qa service: validation rules, agreement, consensus merge and the review queue."""
