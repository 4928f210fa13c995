"""Versioned schema migrations, applied in order at start-up inside one transaction each.

Append new migrations to MIGRATIONS; never edit one that has shipped.
Amounts are TEXT: wei values overflow sqlite's 64-bit INTEGER.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE invoices (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tracking_id TEXT UNIQUE,
        request_id TEXT UNIQUE,
        status INTEGER NOT NULL,
        reason INTEGER NOT NULL DEFAULT 0,
        currency TEXT NOT NULL,
        currency_decimals INTEGER NOT NULL,
        amount TEXT,
        label TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        options TEXT NOT NULL,
        required_confirmations INTEGER,
        resolved INTEGER NOT NULL DEFAULT 0,
        cancelled INTEGER NOT NULL DEFAULT 0,
        resolution_note TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        monitor_until INTEGER NOT NULL
    );
    CREATE INDEX invoices_created ON invoices (created_at DESC, pk DESC);
    CREATE INDEX invoices_status_created ON invoices (status, created_at DESC, pk DESC);
    CREATE INDEX invoices_monitor ON invoices (monitor_until);

    CREATE TABLE payments (
        chain TEXT NOT NULL,
        txid TEXT NOT NULL,
        idx INTEGER NOT NULL,
        invoice_pk INTEGER NOT NULL REFERENCES invoices (pk),
        asset TEXT NOT NULL,
        address TEXT NOT NULL,
        amount TEXT NOT NULL,
        state INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        late INTEGER NOT NULL,
        required_confirmations INTEGER NOT NULL,
        height INTEGER,
        block_hash TEXT,
        PRIMARY KEY (chain, txid, idx)
    );
    CREATE INDEX payments_invoice ON payments (invoice_pk);
    CREATE INDEX payments_chain_state ON payments (chain, state);
    CREATE INDEX payments_block ON payments (chain, block_hash);

    CREATE TABLE addresses (
        chain TEXT NOT NULL,
        watch_key BLOB NOT NULL,
        address TEXT NOT NULL,
        invoice_pk INTEGER NOT NULL REFERENCES invoices (pk),
        derivation_index INTEGER NOT NULL,
        PRIMARY KEY (chain, watch_key)
    );
    CREATE INDEX addresses_invoice ON addresses (invoice_pk);

    CREATE TABLE chains (
        name TEXT PRIMARY KEY,
        next_index INTEGER NOT NULL DEFAULT 0,
        processed_height INTEGER,
        processed_hash TEXT
    );

    CREATE TABLE blocks (
        chain TEXT NOT NULL,
        height INTEGER NOT NULL,
        hash TEXT NOT NULL,
        parent_hash TEXT NOT NULL,
        PRIMARY KEY (chain, height)
    );

    CREATE TABLE events (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        invoice_id TEXT NOT NULL,
        type INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        payload BLOB NOT NULL
    );
    CREATE INDEX events_invoice ON events (invoice_id, sequence);
    """,
    # 2: callbacks (webhook outbox), written in the same transaction as their events
    """
    ALTER TABLE invoices ADD COLUMN callback_url TEXT;
    ALTER TABLE invoices ADD COLUMN callback_secret TEXT;

    CREATE TABLE callbacks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        invoice_pk INTEGER NOT NULL REFERENCES invoices (pk),
        event_sequence INTEGER NOT NULL REFERENCES events (sequence),
        event_type INTEGER NOT NULL,
        url TEXT NOT NULL,
        state INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_attempt_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE INDEX callbacks_pending ON callbacks (state, url, seq);
    CREATE INDEX callbacks_invoice ON callbacks (invoice_pk, seq);
    """,
    # 3: API keys (only their SHA-256 is stored)
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        permissions TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
    );
    """,
    # 4: Electrum watcher state and the gap-limit address carousel
    """
    CREATE TABLE scripthash_state (
        chain TEXT NOT NULL,
        watch_key BLOB NOT NULL,
        history BLOB NOT NULL,
        PRIMARY KEY (chain, watch_key)
    );
    ALTER TABLE addresses ADD COLUMN reused_at_height INTEGER;
    CREATE INDEX addresses_derivation ON addresses (chain, derivation_index);
    CREATE INDEX payments_address ON payments (chain, address);
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the resulting schema version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    version = row[0] if row else 0
    if row is None:
        conn.execute("INSERT INTO schema_version (version) VALUES (0)")
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this coinvoiced "
            f"({len(MIGRATIONS)}); refusing to start"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (number,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
