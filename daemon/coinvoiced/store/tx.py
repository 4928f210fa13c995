"""Synchronous operations inside one store transaction.

A `Tx` is handed to a unit of work (a plain function) that runs in the
database thread; everything it reads and writes commits together or not at
all. Units of work never do I/O other than through the Tx.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import orjson

from ..domain.ledger import Tips
from ..domain.model import (
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentOption,
    PaymentState,
    PendingEvent,
    UnresolvedReason,
)
from ..domain.view import invoice_view, payment_view

_INVOICE_COLUMNS = (
    "pk, id, tracking_id, request_id, status, reason, currency, currency_decimals, amount, "
    "label, metadata, options, required_confirmations, resolved, cancelled, resolution_note, "
    "created_at, updated_at, expires_at, monitor_until, callback_url, callback_secret"
)
_PAYMENT_COLUMNS = (
    "chain, txid, idx, asset, address, amount, state, seen_at, late, required_confirmations, "
    "height, block_hash"
)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    sequence: int
    type: int
    invoice_id: str
    created_at: int
    payload: bytes  # orjson of {"invoice": view, "payment": view | None}
    queued_callback: bool = False  # an outbox row was written with it

    def decoded(self) -> dict[str, Any]:
        return orjson.loads(self.payload)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the callback outbox."""

    seq: int
    id: str
    invoice_pk: int
    invoice_id: str
    event_sequence: int
    event_type: int
    url: str
    state: int  # CallbackState: 1 pending, 2 delivered, 3 failed
    attempts: int
    last_status: int
    last_error: str
    next_attempt_at: int
    created_at: int
    delivered_at: int | None
    secret: str | None  # the invoice's callback secret, if it has its own


_DELIVERY_SELECT = (
    "SELECT c.seq, c.id, c.invoice_pk, i.id, c.event_sequence, c.event_type, c.url, c.state, "
    "c.attempts, c.last_status, c.last_error, c.next_attempt_at, c.created_at, c.delivered_at, "
    "i.callback_secret FROM callbacks c JOIN invoices i ON i.pk = c.invoice_pk "
)

PENDING, DELIVERED, FAILED = 1, 2, 3

# Decides where an event of an invoice is POSTed (None: nowhere); see webhooks/outbox.py.
OutboxRouter = Callable[[Invoice, int], str | None]


def new_delivery_id() -> str:
    return "dlv_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def _options_to_json(options: list[PaymentOption]) -> bytes:
    return orjson.dumps(
        [
            {
                "asset": o.asset,
                "chain": o.chain,
                "address": o.address,
                "decimals": o.asset_decimals,
                "confirmations": o.required_confirmations,
                "due": None if o.amount_due is None else str(o.amount_due),
                "rate": None if o.rate is None else f"{o.rate.numerator}/{o.rate.denominator}",
                "uri": o.payment_uri,
            }
            for o in options
        ]
    )


def _options_from_json(raw: str | bytes) -> list[PaymentOption]:
    return [
        PaymentOption(
            asset=o["asset"],
            chain=o["chain"],
            address=o["address"],
            asset_decimals=o["decimals"],
            required_confirmations=o["confirmations"],
            amount_due=None if o["due"] is None else int(o["due"]),
            rate=None if o["rate"] is None else Fraction(o["rate"]),
            payment_uri=o["uri"],
        )
        for o in orjson.loads(raw)
    ]


def _invoice_from_row(row: tuple[Any, ...]) -> Invoice:
    return Invoice(
        pk=row[0],
        id=row[1],
        tracking_id=row[2],
        request_id=row[3],
        status=InvoiceStatus(row[4]),
        reason=UnresolvedReason(row[5]),
        currency=row[6],
        currency_decimals=row[7],
        amount=None if row[8] is None else int(row[8]),
        label=row[9],
        metadata=orjson.loads(row[10]),
        options=_options_from_json(row[11]),
        required_confirmations=row[12],
        resolved=bool(row[13]),
        cancelled=bool(row[14]),
        resolution_note=row[15],
        created_at=row[16],
        updated_at=row[17],
        expires_at=row[18],
        monitor_until=row[19],
        callback_url=row[20],
        callback_secret=row[21],
    )


def _payment_from_row(row: tuple[Any, ...]) -> Payment:
    return Payment(
        chain=row[0],
        txid=row[1],
        index=row[2],
        asset=row[3],
        address=row[4],
        amount=int(row[5]),
        state=PaymentState(row[6]),
        seen_at=row[7],
        late=bool(row[8]),
        required_confirmations=row[9],
        height=row[10],
        block_hash=row[11],
    )


class Reader:
    """Read-only queries; usable on the reader connection and inside a Tx."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _invoice_where(self, where: str, params: tuple[Any, ...]) -> Invoice | None:
        row = self.conn.execute(
            f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE {where}", params
        ).fetchone()
        if row is None:
            return None
        invoice = _invoice_from_row(row)
        invoice.payments = self._payments(invoice.pk)
        return invoice

    def _payments(self, pk: int) -> list[Payment]:
        rows = self.conn.execute(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE invoice_pk = ? "
            "ORDER BY seen_at, chain, txid, idx",
            (pk,),
        ).fetchall()
        return [_payment_from_row(r) for r in rows]

    def invoice_by_pk(self, pk: int) -> Invoice | None:
        return self._invoice_where("pk = ?", (pk,))

    def invoice_by_id(self, invoice_id: str) -> Invoice | None:
        return self._invoice_where("id = ?", (invoice_id,))

    def invoice_by_tracking_id(self, tracking_id: str) -> Invoice | None:
        return self._invoice_where("tracking_id = ?", (tracking_id,))

    def invoice_by_request_id(self, request_id: str) -> Invoice | None:
        return self._invoice_where("request_id = ?", (request_id,))

    def list_invoices(
        self,
        statuses: Iterable[int],
        created_after: int | None,
        created_before: int | None,
        tracking_id: str | None,
        after_cursor: tuple[int, int] | None,
        limit: int,
    ) -> list[Invoice]:
        clauses: list[str] = []
        params: list[Any] = []
        statuses = list(statuses)
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if created_after is not None:
            clauses.append("created_at >= ?")
            params.append(created_after)
        if created_before is not None:
            clauses.append("created_at < ?")
            params.append(created_before)
        if tracking_id:
            clauses.append("tracking_id = ?")
            params.append(tracking_id)
        if after_cursor is not None:
            clauses.append("(created_at, pk) < (?, ?)")
            params.extend(after_cursor)
        where = " AND ".join(clauses) or "1"
        rows = self.conn.execute(
            f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE {where} "
            "ORDER BY created_at DESC, pk DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        invoices = [_invoice_from_row(r) for r in rows]
        for invoice in invoices:
            invoice.payments = self._payments(invoice.pk)
        return invoices

    def events_after(self, after: int, invoice_id: str | None, limit: int) -> list[StoredEvent]:
        if invoice_id:
            rows = self.conn.execute(
                "SELECT sequence, type, invoice_id, created_at, payload FROM events "
                "WHERE invoice_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                (invoice_id, after, limit),
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT sequence, type, invoice_id, created_at, payload FROM events "
                "WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after, limit),
            ).fetchall()
        return [StoredEvent(*r) for r in rows]

    def last_sequence(self) -> int:
        row = self.conn.execute("SELECT MAX(sequence) FROM events").fetchone()
        return row[0] or 0

    def watched_addresses(self, now: int) -> list[tuple[str, bytes, int]]:
        """(chain, watch_key, invoice_pk) of every invoice still inside its monitoring window."""
        return self.conn.execute(
            "SELECT a.chain, a.watch_key, a.invoice_pk FROM addresses a "
            "JOIN invoices i ON i.pk = a.invoice_pk WHERE i.monitor_until > ?",
            (now,),
        ).fetchall()

    def open_deadlines(self, now: int) -> list[tuple[int, int, int, int]]:
        """(pk, status, expires_at, monitor_until) of invoices still watched."""
        return self.conn.execute(
            "SELECT pk, status, expires_at, monitor_until FROM invoices WHERE monitor_until > ?",
            (now,),
        ).fetchall()

    def unconfirmed_payment_invoices(self, chain: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT invoice_pk FROM payments WHERE chain = ? AND state = ?",
            (chain, int(PaymentState.CONFIRMING)),
        ).fetchall()
        return [r[0] for r in rows]

    def invoices_in_block(self, chain: str, block_hash: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT invoice_pk FROM payments WHERE chain = ? AND block_hash = ?",
            (chain, block_hash),
        ).fetchall()
        return [r[0] for r in rows]

    def invoices_with_transaction(self, chain: str, txid: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT invoice_pk FROM payments WHERE chain = ? AND txid = ?",
            (chain, txid),
        ).fetchall()
        return [r[0] for r in rows]

    def watch_keys(self, invoice_pk: int) -> list[tuple[str, bytes]]:
        return self.conn.execute(
            "SELECT chain, watch_key FROM addresses WHERE invoice_pk = ?", (invoice_pk,)
        ).fetchall()

    def count_by_status(self) -> dict[int, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM invoices GROUP BY status"))

    def chain_cursor(self, chain: str) -> tuple[int | None, str | None]:
        row = self.conn.execute(
            "SELECT processed_height, processed_hash FROM chains WHERE name = ?", (chain,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def next_indexes(self) -> dict[str, int]:
        """Next derivation index per chain."""
        return dict(self.conn.execute("SELECT name, next_index FROM chains"))

    def callback_heads(self) -> list[Delivery]:
        """The oldest pending delivery of each URL: what may be sent next, per endpoint.

        Runs after every attempt, so its cost must not grow with the backlog: instead of
        GROUP BY over every pending row (a dead endpoint can pile up thousands), it hops
        from one pending URL to the next in the (state, url, seq) index, one seek each.
        """
        rows = self.conn.execute(
            _DELIVERY_SELECT + "JOIN ("
            "WITH RECURSIVE pending(url) AS ("
            " SELECT MIN(url) FROM callbacks WHERE state = ?1"
            " UNION ALL"
            " SELECT (SELECT MIN(url) FROM callbacks WHERE state = ?1 AND url > pending.url)"
            " FROM pending WHERE pending.url IS NOT NULL)"
            " SELECT (SELECT MIN(seq) FROM callbacks WHERE state = ?1 AND url = pending.url)"
            " AS head FROM pending WHERE pending.url IS NOT NULL"
            ") h ON h.head = c.seq",
            (PENDING,),
        ).fetchall()
        return [Delivery(*r) for r in rows]

    def callbacks_of_invoice(self, invoice_pk: int) -> list[Delivery]:
        rows = self.conn.execute(
            _DELIVERY_SELECT + "WHERE c.invoice_pk = ? ORDER BY c.seq", (invoice_pk,)
        ).fetchall()
        return [Delivery(*r) for r in rows]

    def callback_by_id(self, delivery_id: str) -> Delivery | None:
        row = self.conn.execute(_DELIVERY_SELECT + "WHERE c.id = ?", (delivery_id,)).fetchone()
        return None if row is None else Delivery(*row)

    def event_payload(self, sequence: int) -> tuple[int, int, bytes] | None:
        """(type, created_at, payload) of one stored event."""
        return self.conn.execute(
            "SELECT type, created_at, payload FROM events WHERE sequence = ?", (sequence,)
        ).fetchone()

    def pending_callbacks(self) -> int:
        row = self.conn.execute("SELECT COUNT(*) FROM callbacks WHERE state = ?", (PENDING,))
        return int(row.fetchone()[0])

    def api_keys(self) -> list[tuple[str, bytes, str, str, int, int | None, int | None]]:
        """(id, hash, label, permissions, created_at, revoked_at, last_used_at), oldest first."""
        return self.conn.execute(
            "SELECT id, hash, label, permissions, created_at, revoked_at, last_used_at "
            "FROM api_keys ORDER BY created_at, id"
        ).fetchall()

    def recent_blocks(self, chain: str, limit: int) -> list[tuple[int, str, str]]:
        return self.conn.execute(
            "SELECT height, hash, parent_hash FROM blocks WHERE chain = ? "
            "ORDER BY height DESC LIMIT ?",
            (chain, limit),
        ).fetchall()

    def first_invoice_created(self, chain: str) -> int | None:
        """created_at of the oldest invoice with an address on `chain` (None if none): a
        watcher without a cursor must not start scanning after it."""
        row = self.conn.execute(
            "SELECT MIN(i.created_at) FROM addresses a JOIN invoices i ON i.pk = a.invoice_pk "
            "WHERE a.chain = ?",
            (chain,),
        ).fetchone()
        return row[0]

    # -- Electrum watcher and address carousel (chains/electrum, app/addresses) -- #

    def scripthash_states(self, chain: str) -> list[tuple[bytes, bytes]]:
        """(watch_key, history JSON) the Electrum watcher last applied, per scripthash."""
        return self.conn.execute(
            "SELECT watch_key, history FROM scripthash_state WHERE chain = ?", (chain,)
        ).fetchall()

    def pending_payment_keys(self, chain: str) -> list[tuple[bytes, str]]:
        """(watch_key, txid) of payments still in the mempool (PENDING) on `chain`."""
        return self.conn.execute(
            "SELECT DISTINCT a.watch_key, p.txid FROM payments p JOIN addresses a "
            "ON a.chain = p.chain AND a.address = p.address WHERE p.chain = ? AND p.state = ?",
            (chain, int(PaymentState.PENDING)),
        ).fetchall()

    def address_floors(self, chain: str, keys: list[bytes] | None = None) -> dict[bytes, int]:
        """watch_key -> tip height when a reused address was handed out again: older
        confirmed history of that address belongs to its earlier invoice. Of `keys` only,
        when given."""
        if keys is None:
            return dict(
                self.conn.execute(
                    "SELECT watch_key, reused_at_height FROM addresses "
                    "WHERE chain = ? AND reused_at_height IS NOT NULL",
                    (chain,),
                )
            )
        found: dict[bytes, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found.update(
                self.conn.execute(
                    "SELECT watch_key, reused_at_height FROM addresses WHERE chain = ? AND "
                    f"reused_at_height IS NOT NULL AND watch_key IN ({','.join('?' * len(chunk))})",
                    (chain, *chunk),
                )
            )
        return found

    def last_used_index(self, chain: str, since: int) -> int | None:
        """Highest derivation index >= `since` whose address received a mined payment."""
        row = self.conn.execute(
            "SELECT MAX(a.derivation_index) FROM addresses a WHERE a.chain = ? "
            "AND a.derivation_index >= ? AND EXISTS (SELECT 1 FROM payments p "
            "WHERE p.chain = a.chain AND p.address = a.address AND p.state IN (?, ?))",
            (chain, since, int(PaymentState.CONFIRMING), int(PaymentState.CONFIRMED)),
        ).fetchone()
        return row[0]

    def reusable_address(self, chain: str, now: int) -> tuple[bytes, str, int] | None:
        """(watch_key, address, derivation_index) of an address whose invoice expired (or
        was cancelled) with nothing ever paid to it and whose monitoring window is over:
        no earlier invoice can still receive on it."""
        return self.conn.execute(
            # Newest windows first, through the monitor_until index: under invoice spam the
            # candidates are recent, and old (mostly paid) invoices are not walked.
            "SELECT a.watch_key, a.address, a.derivation_index FROM invoices i "
            "INDEXED BY invoices_monitor CROSS JOIN addresses a ON a.invoice_pk = i.pk "
            "WHERE i.monitor_until <= ? "
            "AND i.status IN (?, ?) AND a.chain = ? AND NOT EXISTS (SELECT 1 FROM payments p "
            "WHERE p.chain = a.chain AND p.address = a.address) "
            "ORDER BY i.monitor_until DESC LIMIT 1",
            (now, int(InvoiceStatus.EXPIRED), int(InvoiceStatus.CANCELLED), chain),
        ).fetchone()


class Tx(Reader):
    """Writes inside the current transaction. Events appended here are published to
    live subscribers only after the transaction commits."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        events: list[StoredEvent],
        outbox: OutboxRouter | None = None,
    ) -> None:
        super().__init__(conn)
        self._events = events
        self._outbox = outbox

    def insert_invoice(self, invoice: Invoice) -> int:
        cursor = self.conn.execute(
            f"INSERT INTO invoices ({_INVOICE_COLUMNS}) "
            "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._invoice_params(invoice),
        )
        invoice.pk = int(cursor.lastrowid or 0)
        return invoice.pk

    def save_invoice(self, invoice: Invoice) -> None:
        """Write the invoice row and all its payments (upsert by (chain, txid, idx))."""
        self.conn.execute(
            "UPDATE invoices SET id=?, tracking_id=?, request_id=?, status=?, reason=?, "
            "currency=?, currency_decimals=?, amount=?, label=?, metadata=?, options=?, "
            "required_confirmations=?, resolved=?, cancelled=?, resolution_note=?, "
            "created_at=?, updated_at=?, expires_at=?, monitor_until=?, callback_url=?, "
            "callback_secret=? WHERE pk=?",
            (*self._invoice_params(invoice), invoice.pk),
        )
        self.conn.executemany(
            f"INSERT INTO payments (invoice_pk, {_PAYMENT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (chain, txid, idx) DO UPDATE SET state=excluded.state, "
            "height=excluded.height, block_hash=excluded.block_hash",
            [
                (
                    invoice.pk,
                    p.chain,
                    p.txid,
                    p.index,
                    p.asset,
                    p.address,
                    str(p.amount),
                    int(p.state),
                    p.seen_at,
                    int(p.late),
                    p.required_confirmations,
                    p.height,
                    p.block_hash,
                )
                for p in invoice.payments
            ],
        )

    @staticmethod
    def _invoice_params(invoice: Invoice) -> tuple[Any, ...]:
        return (
            invoice.id,
            invoice.tracking_id,
            invoice.request_id,
            int(invoice.status),
            int(invoice.reason),
            invoice.currency,
            invoice.currency_decimals,
            None if invoice.amount is None else str(invoice.amount),
            invoice.label,
            orjson.dumps(invoice.metadata).decode(),
            _options_to_json(invoice.options).decode(),
            invoice.required_confirmations,
            int(invoice.resolved),
            int(invoice.cancelled),
            invoice.resolution_note,
            invoice.created_at,
            invoice.updated_at,
            invoice.expires_at,
            invoice.monitor_until,
            invoice.callback_url,
            invoice.callback_secret,
        )

    def append_events(
        self, invoice: Invoice, pending: list[PendingEvent], now: int, tips: Tips
    ) -> list[StoredEvent]:
        """Append events with the invoice snapshot as it is now (after the change)."""
        if not pending:
            return []
        snapshot = invoice_view(invoice, tips)
        stored = []
        for event in pending:
            payload = orjson.dumps(
                {
                    "invoice": snapshot,
                    "payment": None
                    if event.payment is None
                    else payment_view(invoice, event.payment, tips),
                }
            )
            cursor = self.conn.execute(
                "INSERT INTO events (invoice_id, type, created_at, payload) VALUES (?, ?, ?, ?)",
                (invoice.id, int(event.type), now, payload),
            )
            sequence = int(cursor.lastrowid or 0)
            url = self._outbox(invoice, int(event.type)) if self._outbox else None
            if url is not None:
                # The outbox row commits with its event: a crash can lose neither alone.
                self.insert_delivery(invoice.pk, sequence, int(event.type), url, now)
            stored.append(
                StoredEvent(sequence, int(event.type), invoice.id, now, payload, url is not None)
            )
        self._events.extend(stored)
        return stored

    def insert_delivery(
        self, invoice_pk: int, event_sequence: int, event_type: int, url: str, now: int
    ) -> str:
        delivery_id = new_delivery_id()
        self.conn.execute(
            "INSERT INTO callbacks (id, invoice_pk, event_sequence, event_type, url, state, "
            "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (delivery_id, invoice_pk, event_sequence, event_type, url, PENDING, now, now),
        )
        return delivery_id

    def record_attempt(
        self,
        seq: int,
        *,
        state: int,
        status: int,
        error: str,
        next_attempt_at: int,
        delivered_at: int | None,
    ) -> None:
        self.conn.execute(
            "UPDATE callbacks SET state = ?, attempts = attempts + 1, last_status = ?, "
            "last_error = ?, next_attempt_at = ?, delivered_at = ? WHERE seq = ?",
            (state, status, error, next_attempt_at, delivered_at, seq),
        )

    def insert_api_key(
        self, key_id: str, key_hash: bytes, label: str, permissions: str, now: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO api_keys (id, hash, label, permissions, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key_id, key_hash, label, permissions, now),
        )

    def revoke_api_key(self, key_id: str, now: int) -> bool:
        cursor = self.conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, key_id),
        )
        return cursor.rowcount == 1

    def touch_api_key(self, key_id: str, now: int) -> None:
        self.conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))

    def allocate_index(self, chain: str) -> int:
        """The next derivation index of `chain` (persisted with this transaction)."""
        self.conn.execute("INSERT OR IGNORE INTO chains (name) VALUES (?)", (chain,))
        row = self.conn.execute(
            "UPDATE chains SET next_index = next_index + 1 WHERE name = ? RETURNING next_index",
            (chain,),
        ).fetchone()
        return int(row[0]) - 1

    def insert_address(
        self, chain: str, watch_key: bytes, address: str, invoice_pk: int, index: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO addresses (chain, watch_key, address, invoice_pk, derivation_index) "
            "VALUES (?, ?, ?, ?, ?)",
            (chain, watch_key, address, invoice_pk, index),
        )

    def set_chain_cursor(self, chain: str, height: int, block_hash: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO chains (name) VALUES (?)", (chain,))
        self.conn.execute(
            "UPDATE chains SET processed_height = ?, processed_hash = ? WHERE name = ?",
            (height, block_hash, chain),
        )

    def put_block(self, chain: str, height: int, block_hash: str, parent_hash: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO blocks (chain, height, hash, parent_hash) VALUES (?, ?, ?, ?)",
            (chain, height, block_hash, parent_hash),
        )

    def delete_blocks_from(self, chain: str, height: int) -> None:
        self.conn.execute("DELETE FROM blocks WHERE chain = ? AND height >= ?", (chain, height))

    def prune_blocks_below(self, chain: str, height: int) -> None:
        self.conn.execute("DELETE FROM blocks WHERE chain = ? AND height < ?", (chain, height))

    # -- Electrum watcher and address carousel (chains/electrum, app/addresses) -- #

    def put_scripthash_states(self, chain: str, rows: Iterable[tuple[bytes, bytes]]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO scripthash_state (chain, watch_key, history) VALUES (?, ?, ?)",
            [(chain, key, history) for key, history in rows],
        )

    def delete_scripthash_states(self, chain: str, keys: Iterable[bytes]) -> None:
        self.conn.executemany(
            "DELETE FROM scripthash_state WHERE chain = ? AND watch_key = ?",
            [(chain, key) for key in keys],
        )

    def next_index(self, chain: str) -> int:
        row = self.conn.execute("SELECT next_index FROM chains WHERE name = ?", (chain,))
        found = row.fetchone()
        return 0 if found is None else int(found[0])

    def reassign_address(
        self, chain: str, watch_key: bytes, invoice_pk: int, reused_at_height: int
    ) -> None:
        self.conn.execute(
            "UPDATE addresses SET invoice_pk = ?, reused_at_height = ? "
            "WHERE chain = ? AND watch_key = ?",
            (invoice_pk, reused_at_height, chain, watch_key),
        )
