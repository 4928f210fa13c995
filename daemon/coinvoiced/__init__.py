"""coinvoiced: the coinvoice daemon."""

__version__ = "0.1.0"
