"""The only package that touches sqlite."""

from .db import Store, StoredEvent
from .tx import Tx

__all__ = ["Store", "StoredEvent", "Tx"]
