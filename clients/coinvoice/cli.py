"""coinvoice-cli: the command-line client of coinvoiced.

Human-readable output by default, `--json` for scripts. Every command is one gRPC call
(except `list --all`, which follows pages, and `watch`, which follows the event stream).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import grpc
from google.protobuf.message import Message

from . import credentials
from . import format as fmt
from .client import DEFAULT_TARGET, Client, CoinvoiceError, invoice_status, status_words

SERVER_ENV = "COINVOICE_SERVER"
DEFAULT_TIMEOUT = 30.0

EXIT_OK = 0
EXIT_ERROR = 1  # any gRPC status without its own code below
EXIT_USAGE = 64  # EX_USAGE from sysexits.h: kept apart from the gRPC-derived codes
EXIT_INTERRUPTED = 130  # Ctrl-C during a one-shot command (128 + SIGINT), as shells do

# Fixed: scripts may branch on these.
EXIT_CODES: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 2,
    grpc.StatusCode.NOT_FOUND: 3,
    grpc.StatusCode.ALREADY_EXISTS: 4,
    grpc.StatusCode.FAILED_PRECONDITION: 5,
    grpc.StatusCode.UNAVAILABLE: 6,
    grpc.StatusCode.UNAUTHENTICATED: 7,
    grpc.StatusCode.PERMISSION_DENIED: 7,
    grpc.StatusCode.DEADLINE_EXCEEDED: 8,
}

EPILOG = f"""\
environment:
  {SERVER_ENV}  default for --server (else {DEFAULT_TARGET})

output:
  amounts are the API's decimal strings, times are local ISO 8601 (seconds),
  statuses are lower-case words. --json prints the protobuf messages as JSON
  (field names as in the .proto, every field present, enums by name, times in
  UTC RFC 3339, sequence and heights as numbers). watch --json prints one JSON
  object per line.

exit status:
  0   success (also: watch stopped with Ctrl-C or SIGTERM)
  1   any other gRPC error (INTERNAL, CANCELLED, ...)
  2   INVALID_ARGUMENT      3  NOT_FOUND          4  ALREADY_EXISTS
  5   FAILED_PRECONDITION   6  UNAVAILABLE (daemon unreachable, connection
      dropped, or watch's stream ended because the daemon shut down)
  7   UNAUTHENTICATED / PERMISSION_DENIED   8  DEADLINE_EXCEEDED (--timeout)
  64  usage error (bad or missing arguments)
  130 interrupted (Ctrl-C) during a one-shot command
  gRPC errors print "error: <CODE>: <message>" on stderr.
"""


class UsageError(Exception):
    """A bad combination of arguments that argparse itself cannot express."""


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on usage errors, which would collide with INVALID_ARGUMENT.
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# -- argument types ----------------------------------------------------------------------

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> int:
    """Seconds: 900, 90s, 15m, 2h, 1d."""
    number, unit = (text[:-1], text[-1].lower()) if text[-1:].isalpha() else (text, "s")
    if not number.isdigit() or unit not in _DURATION_UNITS or int(number) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 900, 15m, 2h, 1d)")
    return int(number) * _DURATION_UNITS[unit]


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a non-negative integer: {text!r}")
    return int(text)


def _page_size(text: str) -> int:
    size = _count(text)
    if not 1 <= size <= 1000:
        raise argparse.ArgumentTypeError(f"must be 1 to 1000: {text!r}")
    return size


def _seconds(text: str) -> float:
    # A deadline, not money: float is fine here.
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _status(text: str) -> int:
    try:
        return invoice_status(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r} (one of {', '.join(status_words())})"
        ) from None


def _time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-11-21T17:03:05+01:00 or 2026-11-21)"
        ) from None
    # Without an offset, a time means local time, the same zone the CLI prints in.
    return moment if moment.tzinfo is not None else moment.astimezone()


def _metadata(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in pairs or ():
        if key in result:
            raise UsageError(f"--meta {key} given twice")
        result[key] = value
    return result


# -- parser ------------------------------------------------------------------------------


def _add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=default(os.environ.get(SERVER_ENV) or DEFAULT_TARGET),
        help=f"daemon address (default: ${SERVER_ENV} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON, not tables"
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=default(DEFAULT_TIMEOUT),
        help=f"deadline of each call in seconds (default {DEFAULT_TIMEOUT:g}; not for watch)",
    )
    parser.add_argument(
        "--datadir",
        metavar="DIR",
        default=default(None),
        help="the daemon's data directory, where admin.key and tls.cert are found "
        "(default: $COINVOICE_DATA_DIR, ./data, /var/lib/coinvoice)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key (default: $COINVOICE_API_KEY, --key-file, then admin.key)",
    )
    parser.add_argument(
        "--key-file",
        metavar="PATH",
        default=default(None),
        help="file holding the API key (default: $COINVOICE_KEY_FILE)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PATH",
        default=default(None),
        help="certificate to trust (default: $COINVOICE_TLS_CERT, then tls.cert in the "
        "data directory if the daemon made one)",
    )
    parser.add_argument(
        "--no-tls",
        action="store_true",
        default=default(False),
        help="plaintext even if a tls.cert is found",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="coinvoice-cli",
        description="Command-line client for the coinvoiced invoicing daemon.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, defaults=True)
    # The same options are accepted after COMMAND too (`get ID --json`). There they default
    # to SUPPRESS, so an option not repeated there keeps the value given before COMMAND.
    common = _Parser(add_help=False)
    _add_global_options(common, defaults=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], **kwargs)
        sub.set_defaults(subparser=sub)  # for usage errors found after parsing
        return sub

    create = add("create", help="create an invoice")
    create.add_argument(
        "--amount", help='decimal amount, e.g. "19.99" (omit for an open-amount invoice)'
    )
    create.add_argument("--currency", default="", help="asset (ETH, BTC) or fiat code (USD)")
    create.add_argument(
        "--asset",
        dest="assets",
        action="append",
        default=[],
        metavar="CODE",
        help="accepted asset, repeatable (default: the currency, or every asset for fiat)",
    )
    create.add_argument("--tracking-id", default="", help="your own unique reference")
    create.add_argument("--label", default="", help="free text")
    create.add_argument(
        "--expires-in", type=_duration, default=0, metavar="DURATION", help="e.g. 900, 15m, 2h"
    )
    create.add_argument(
        "--confirmations", type=_count, default=0, metavar="N", help="required confirmations"
    )
    create.add_argument(
        "--meta", action="append", type=_pair, metavar="KEY=VALUE", help="metadata, repeatable"
    )
    create.add_argument(
        "--request-id", default="", help="idempotency key: a retry returns the first invoice"
    )
    create.add_argument(
        "--callback-url",
        default="",
        metavar="URL",
        help="POST the invoice's events here (default: the daemon's)",
    )
    create.add_argument(
        "--callback-secret",
        default="",
        metavar="SECRET",
        help="HMAC key for the callbacks' signature (16-256 characters)",
    )

    get = add("get", help="show one invoice")
    get.add_argument("id", nargs="?", help="invoice id (inv_...)")
    get.add_argument("--tracking-id", help="look up by tracking id instead")

    lst = add("list", help="list invoices, newest first")
    lst.add_argument(
        "--status",
        dest="statuses",
        action="append",
        type=_status,
        default=[],
        metavar="STATUS",
        help=f"repeatable; one of {', '.join(status_words())}",
    )
    lst.add_argument("--created-after", type=_time, metavar="TIME", help="ISO 8601, inclusive")
    lst.add_argument("--created-before", type=_time, metavar="TIME", help="ISO 8601, exclusive")
    lst.add_argument("--tracking-id", default="")
    lst.add_argument(
        "--limit", type=_page_size, default=0, metavar="N", help="invoices per page (1-1000)"
    )
    lst.add_argument("--page-token", default="", help="next page token of a previous list")
    lst.add_argument("--all", action="store_true", help="follow pages to the end")

    update = add("update", help="change fields of an invoice")
    update.add_argument("id")
    update.add_argument("--label", help='new label ("" clears it)')
    update.add_argument("--tracking-id", help='new tracking id ("" clears it)')
    meta = update.add_mutually_exclusive_group()
    meta.add_argument(
        "--meta",
        action="append",
        type=_pair,
        metavar="KEY=VALUE",
        help="repeatable; replaces the whole metadata map",
    )
    meta.add_argument("--clear-meta", action="store_true", help="remove all metadata")
    update.add_argument(
        "--expires-in",
        type=_duration,
        metavar="DURATION",
        help="new deadline, counted from now (only while new)",
    )
    update.add_argument("--amount", help="new amount (only while nothing is paid)")
    update.add_argument(
        "--callback-url",
        metavar="URL",
        help='new callback URL ("" falls back to the daemon\'s default)',
    )
    update.add_argument("--callback-secret", metavar="SECRET", help="new callback secret")

    cancel = add("cancel", help="cancel an invoice with nothing paid")
    cancel.add_argument("id")

    resolve = add("resolve", help="settle an unresolved invoice")
    resolve.add_argument("id")
    resolve.add_argument("resolution", type=str.lower, choices=["accept", "refund"])
    resolve.add_argument("--note", default="", help="kept with the invoice (how it was refunded)")

    watch = add(
        "watch",
        help="follow invoice events",
        description=(
            "Print one line per event as they happen. Without --after only new events are "
            "shown; --after SEQ first replays every stored event after SEQ (0: all), so a "
            "watcher that was stopped can resume where it left off. On exit the last "
            "sequence seen is printed on stderr. Ctrl-C or SIGTERM exits 0; if the "
            "connection drops or the daemon shuts down, exits 6 (UNAVAILABLE)."
        ),
    )
    watch.add_argument("--after", type=_count, metavar="SEQ", help="replay events after SEQ")
    watch.add_argument("--invoice", metavar="ID", help="only events of this invoice")

    add("info", help="daemon version, profile and chain states")

    callbacks = add(
        "callbacks",
        help="callback deliveries of an invoice",
        description=(
            "One line per event sent (or being retried) to the invoice's callback URL: "
            "delivery id, event, URL, state (pending, delivered, failed), attempts, the "
            "last HTTP status or error, and when the next retry is due."
        ),
    )
    callbacks.add_argument("id", metavar="INVOICE_ID")
    redeliver = add(
        "redeliver",
        help="send a callback again",
        description="Queue the delivery's event again for the same URL, as a new delivery "
        "(new id). Prints the new delivery.",
    )
    redeliver.add_argument("delivery_id", metavar="DELIVERY_ID")
    add("rates", help="exchange rates with source, age and freshness")

    keys = add(
        "keys",
        help="manage API keys (admin)",
        description="Create, list and revoke API keys. Permissions: invoices:read, "
        "invoices:write, invoices:resolve, admin.",
    )
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    key_create = key_commands.add_parser(
        "create", parents=[common], help="create a key; prints its secret once"
    )
    key_create.add_argument(
        "--permissions", required=True, help="comma-separated, e.g. invoices:read,invoices:write"
    )
    key_create.add_argument("--label", default="", help="what the key is for")
    key_commands.add_parser("list", parents=[common], help="list keys (not their secrets)")
    key_revoke = key_commands.add_parser("revoke", parents=[common], help="revoke a key at once")
    key_revoke.add_argument("key_id", metavar="KEY_ID")

    backup = add(
        "backup",
        help="online backup of the database (admin)",
        description="Copy a consistent snapshot of the daemon's database to PATH "
        "while it runs, and check it (SHA-256 and sqlite integrity). To restore, "
        "stop the daemon and put the file in its data directory as "
        "coinvoice.sqlite.",
    )
    backup.add_argument("path", metavar="PATH")
    return parser


# -- connection --------------------------------------------------------------------------


def client_for(args: argparse.Namespace) -> Client:
    """The Client for these arguments.

    The API key and the TLS certificate are found like lncli finds its macaroon:
    flags, then environment, then the daemon's data directory (see credentials.py).
    """
    found = credentials.find(
        api_key=args.api_key,
        key_file=args.key_file,
        tls_cert=args.tls_cert,
        datadir=args.datadir,
        no_tls=args.no_tls,
    )
    return Client(
        args.server,
        api_key=found.api_key,
        credentials=found.channel_credentials(),
        timeout=args.timeout,
    )


# -- commands ----------------------------------------------------------------------------


class Output:
    def __init__(self, as_json: bool, out: TextIO) -> None:
        self.as_json = as_json
        self.out = out

    def message(self, message: Message, text: str) -> None:
        if self.as_json:
            self.json(fmt.as_dict(message))
        else:
            self.line(text)

    def json(self, value: Any, *, one_line: bool = False) -> None:
        text = json.dumps(value, ensure_ascii=False, indent=None if one_line else 2)
        self.line(text)

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)


async def _create(client: Client, args: argparse.Namespace, out: Output) -> int:
    invoice = await client.create_invoice(
        amount=args.amount,  # passed as typed: the daemon parses and validates the decimal
        currency=args.currency,
        accepted_assets=args.assets,
        tracking_id=args.tracking_id,
        label=args.label,
        expires_in_seconds=args.expires_in,
        required_confirmations=args.confirmations,
        metadata=_metadata(args.meta),
        request_id=args.request_id,
        callback_url=args.callback_url,
        callback_secret=args.callback_secret,
    )
    out.message(invoice, fmt.invoice_text(invoice))
    return EXIT_OK


async def _get(client: Client, args: argparse.Namespace, out: Output) -> int:
    if (args.id is None) == (args.tracking_id is None):
        raise UsageError("give an invoice ID or --tracking-id (one of them)")
    invoice = await client.get_invoice(id=args.id, tracking_id=args.tracking_id)
    out.message(invoice, fmt.invoice_text(invoice))
    return EXIT_OK


async def _list(client: Client, args: argparse.Namespace, out: Output) -> int:
    filters: dict[str, Any] = {
        "statuses": args.statuses,
        "created_after": args.created_after,
        "created_before": args.created_before,
        "tracking_id": args.tracking_id,
        "page_size": args.limit,
    }
    if args.all:
        if args.page_token:
            raise UsageError("--all starts from the first page; drop --page-token")
        invoices = [i async for i in client.iter_invoices(**filters)]
        next_token = ""
    else:
        page = await client.list_invoices(**filters, page_token=args.page_token)
        invoices, next_token = list(page.invoices), page.next_page_token
    if out.as_json:
        out.json({"invoices": [fmt.as_dict(i) for i in invoices], "next_page_token": next_token})
        return EXIT_OK
    out.line(fmt.invoices_table(invoices) if invoices else "no invoices")
    if next_token:
        out.line(f"\nmore: add --page-token {next_token} (or use --all)")
    return EXIT_OK


async def _update(client: Client, args: argparse.Namespace, out: Output) -> int:
    metadata = {} if args.clear_meta else (_metadata(args.meta) if args.meta else None)
    changes = {
        "label": args.label,
        "tracking_id": args.tracking_id,
        "metadata": metadata,
        "expires_in_seconds": args.expires_in,
        "amount": args.amount,
        "callback_url": args.callback_url,
        "callback_secret": args.callback_secret,
    }
    if all(value is None for value in changes.values()):
        raise UsageError(
            "nothing to update: give --label, --tracking-id, --meta, --clear-meta, "
            "--expires-in, --amount, --callback-url or --callback-secret"
        )
    invoice = await client.update_invoice(args.id, **changes)
    out.message(invoice, fmt.invoice_text(invoice))
    return EXIT_OK


async def _cancel(client: Client, args: argparse.Namespace, out: Output) -> int:
    invoice = await client.cancel_invoice(args.id)
    out.message(invoice, fmt.invoice_text(invoice))
    return EXIT_OK


async def _resolve(client: Client, args: argparse.Namespace, out: Output) -> int:
    invoice = await client.resolve_invoice(args.id, args.resolution, args.note)
    out.message(invoice, fmt.invoice_text(invoice))
    return EXIT_OK


async def _info(client: Client, args: argparse.Namespace, out: Output) -> int:
    info = await client.get_info()
    out.message(info, fmt.info_text(info))
    return EXIT_OK


async def _callbacks(client: Client, args: argparse.Namespace, out: Output) -> int:
    reply = await client.list_callbacks(args.id)
    if out.as_json:
        out.json(fmt.as_dict(reply))
        return EXIT_OK
    out.line(fmt.callbacks_table(reply.deliveries) if reply.deliveries else "no callbacks")
    return EXIT_OK


async def _redeliver(client: Client, args: argparse.Namespace, out: Output) -> int:
    delivery = await client.redeliver_callback(args.delivery_id)
    out.message(delivery, fmt.delivery_text(delivery))
    return EXIT_OK


async def _rates(client: Client, args: argparse.Namespace, out: Output) -> int:
    reply = await client.get_rates()
    if out.as_json:
        out.json(fmt.as_dict(reply))
        return EXIT_OK
    out.line(fmt.rates_table(reply.rates) if reply.rates else "no rates configured")
    return EXIT_OK


async def _watch(client: Client, args: argparse.Namespace, out: Output) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    # Ctrl-C and SIGTERM are the normal way to end a watch: exit 0, not a traceback.
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop)
    last = args.after
    try:
        if last is None:
            # "From now": no gap even if an event lands before the stream opens, since
            # the stream replays everything after this sequence.
            last = (await client.get_info()).last_event_sequence
        async with contextlib.aclosing(client.stream_events(last, args.invoice)) as events:
            async for event in events:
                if out.as_json:
                    out.json(fmt.as_dict(event), one_line=True)
                else:
                    out.line(fmt.event_line(event))
                last = event.sequence
    except asyncio.CancelledError:
        if not stopped:
            raise
        task.uncancel()
        _resume_hint(last)
        return EXIT_OK
    except CoinvoiceError as exc:
        _report(exc)
        if exc.code is grpc.StatusCode.UNAVAILABLE:  # worth retrying from where we were
            _resume_hint(last)
        return EXIT_CODES.get(exc.code, EXIT_ERROR)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    # The daemon ends streams cleanly when it shuts down; for a watcher that is still an
    # interruption to act on (reconnect), hence UNAVAILABLE and not success.
    _report(CoinvoiceError(grpc.StatusCode.UNAVAILABLE, "the daemon closed the event stream"))
    _resume_hint(last)
    return EXIT_CODES[grpc.StatusCode.UNAVAILABLE]


def _resume_hint(last: int | None) -> None:
    if last is not None:
        print(f"last sequence: {last} (resume with: watch --after {last})", file=sys.stderr)


async def _keys(client: Client, args: argparse.Namespace, out: Output) -> int:
    if args.keys_command == "create":
        permissions = [p.strip() for p in args.permissions.split(",") if p.strip()]
        reply = await client.create_api_key(permissions, args.label)
        if out.as_json:
            out.json(fmt.as_dict(reply))
        else:
            out.line(f"id           {reply.key.id}")
            out.line(f"permissions  {', '.join(reply.key.permissions)}")
            out.line(f"secret       {reply.secret}")
            out.line("(the secret is shown only now; store it where the service can read it)")
        return EXIT_OK
    if args.keys_command == "list":
        reply = await client.list_api_keys()
        if out.as_json:
            out.json(fmt.as_dict(reply))
            return EXIT_OK
        rows = [
            (
                key.id,
                key.label or "-",
                ",".join(key.permissions),
                fmt.local_time(key.created_at),
                fmt.local_time(key.revoked_at) if key.HasField("revoked_at") else "-",
            )
            for key in reply.keys
        ]
        out.line(fmt.table(("ID", "LABEL", "PERMISSIONS", "CREATED AT", "REVOKED AT"), rows))
        return EXIT_OK
    key = await client.revoke_api_key(args.key_id)
    out.message(key, f"revoked {key.id}")
    return EXIT_OK


async def _backup(client: Client, args: argparse.Namespace, out: Output) -> int:
    target = Path(args.path)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    expected = ""
    size = 0
    with partial.open("wb") as handle:
        async for chunk in client.backup_database():
            handle.write(chunk.data)
            digest.update(chunk.data)
            size += len(chunk.data)
            expected = chunk.sha256 or expected
    problem = ""
    if digest.hexdigest() != expected:
        problem = "checksum mismatch"
    else:
        with contextlib.closing(sqlite3.connect(partial)) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        problem = "" if verdict == "ok" else f"integrity check: {verdict}"
    if problem:
        partial.unlink(missing_ok=True)
        print(f"error: backup is damaged ({problem}); nothing written", file=sys.stderr)
        return EXIT_ERROR
    partial.replace(target)
    if out.as_json:
        out.json({"path": str(target), "bytes": size, "sha256": expected})
    else:
        out.line(f"backup written to {target} ({size} bytes, sha256 {expected})")
    return EXIT_OK


COMMANDS = {
    "create": _create,
    "get": _get,
    "list": _list,
    "update": _update,
    "cancel": _cancel,
    "resolve": _resolve,
    "watch": _watch,
    "info": _info,
    "callbacks": _callbacks,
    "redeliver": _redeliver,
    "rates": _rates,
    "keys": _keys,
    "backup": _backup,
}


def _report(exc: CoinvoiceError) -> None:
    details = " ".join(exc.details.split()) or "(no details)"
    print(f"error: {exc.code.name}: {details}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    async with client_for(args) as client:
        try:
            return await COMMANDS[args.command](client, args, Output(args.json, sys.stdout))
        except CoinvoiceError as exc:
            _report(exc)
            return EXIT_CODES.get(exc.code, EXIT_ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (EXIT_USAGE)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return asyncio.run(_run(args))
    except UsageError as exc:
        try:
            args.subparser.error(str(exc))
        except SystemExit as usage:  # _Parser.error exits with EXIT_USAGE
            return usage.code if isinstance(usage.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
