"""Signed HTTP callbacks from a persisted outbox (see deliverer.py)."""
