"""Which events go to which callback URL; consulted inside the event's transaction."""

from __future__ import annotations

from ..config import CallbacksConfig
from ..domain.model import Invoice


class CallbackRouter:
    def __init__(self, config: CallbacksConfig) -> None:
        self._default_url = config.default_url or None
        self._events = config.events

    def __call__(self, invoice: Invoice, event_type: int) -> str | None:
        if event_type not in self._events:
            return None
        return invoice.callback_url or self._default_url
