"""Pure domain logic: money, the invoice model and the ledger state machine. No I/O here."""
