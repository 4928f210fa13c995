"""Exchange rates from real HTTP servers on loopback serving recorded response bodies of
each provider's API (Kraken public Ticker, Coinbase spot price, a generic JSON endpoint
with its own timestamp), including malformed JSON, missing fields, HTTP errors, error
arrays, stale and future timestamps; then the freshness rules end to end through the
daemon: fallback order, markup, GetRates, and CreateInvoice refusing to price with
anything but a fresh rate."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.config import RatesConfig
from coinvoiced.rates import RateService, RateUnavailable
from coinvoiced.rates.providers import parse_timestamp

from tests.support.daemon import Daemon, base_config
from tests.support.util import async_wait_for, free_port, wait_for

# -- recorded bodies ---------------------------------------------------------------------
# Shapes as the real APIs answer (values from a quiet day; only the numbers matter).

KRAKEN_XBTUSD = (
    b'{"error":[],"result":{"XXBTZUSD":{"a":["60310.10000","1","1.000"],'
    b'"b":["60310.00000","3","3.000"],"c":["60312.40000","0.00050000"],'
    b'"v":["1408.12043721","2933.51876493"],"p":["60123.44553","60002.90129"],'
    b'"t":[31257,65033],"l":["59688.00000","59310.10000"],"h":["60600.00000","60600.00000"],'
    b'"o":"59920.20000"}}}'
)
KRAKEN_ETHUSD = (
    b'{"error":[],"result":{"XETHZUSD":{"a":["3012.46000","12","12.000"],'
    b'"b":["3012.45000","1","1.000"],"c":["3012.45000","0.10000000"],'
    b'"v":["8123.10250310","16011.78844016"],"p":["3001.91823","2999.40155"],'
    b'"t":[20411,41237],"l":["2971.10000","2960.00000"],"h":["3030.00000","3030.00000"],'
    b'"o":"2990.01000"}}}'
)
KRAKEN_UNKNOWN_PAIR = b'{"error":["EQuery:Unknown asset pair"]}'
KRAKEN_UNAVAILABLE = b'{"error":["EService:Unavailable"]}'
COINBASE_ETH_USD = b'{"data":{"amount":"3011.875","base":"ETH","currency":"USD"}}'
COINBASE_BTC_USD = b'{"data":{"amount":"60290.01","base":"BTC","currency":"USD"}}'
COINBASE_NOT_FOUND = b'{"errors":[{"id":"not_found","message":"Invalid base currency"}]}'
HTML_502 = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

KRAKEN_ETH_PATH = "/0/public/Ticker?pair=ETHUSD"
KRAKEN_BTC_PATH = "/0/public/Ticker?pair=XBTUSD"
COINBASE_ETH_PATH = "/v2/prices/ETH-USD/spot"
COINBASE_BTC_PATH = "/v2/prices/BTC-USD/spot"
JSON_ETH_PATH = "/quotes/ETH-USD.json"


def generic_body(price: str, at: Any) -> bytes:
    """A generic JSON endpoint: {"data": {"quote": {"price": ..., "updated": ...}}}."""
    import json

    return json.dumps({"data": {"quote": {"price": price, "updated": at}}, "ok": True}).encode()


def unix(offset: float = 0.0) -> int:
    return int(time.time() + offset)


def iso(offset: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset, UTC).isoformat().replace("+00:00", "Z")


# -- a ticker server ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0


class TickerServer:
    """aiohttp in its own thread: GET `path?query` answers what was set for it (404
    otherwise) and counts requests."""

    def __init__(self) -> None:
        self.port = free_port()
        self._answers: dict[str, Answer] = {}
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="tickers", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, path: str, status: int = 200, body: bytes = b"", delay: float = 0.0) -> None:
        with self._lock:
            self._answers[path] = Answer(status, body, delay)

    def count(self, path: str) -> int:
        with self._lock:
            return self.hits.get(path, 0)

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()
            self.hits.clear()

    def start(self) -> TickerServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        key = request.path_qs
        with self._lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            answer = self._answers.get(key, Answer(404, b'{"error":"not set"}'))
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(status=answer.status, body=answer.body, content_type="application/json")


@pytest.fixture(scope="module")
def tickers() -> Iterator[TickerServer]:
    server = TickerServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def upstream(tickers: TickerServer) -> TickerServer:
    tickers.reset()
    return tickers


def rates_config(server: TickerServer, **overrides: Any) -> RatesConfig:
    values: dict[str, Any] = {
        "providers": ("kraken",),
        "pairs": (("ETH", "USD"),),
        "max_age_seconds": 300,
        "refresh_seconds": 3600,  # background refresh only where a test wants it
        "timeout_seconds": 1,
        "markup": Fraction(0),
        "fixed": {("ETH", "USD"): Fraction(2500)},
        "kraken_url": server.base,
        "coinbase_url": server.base,
        "json_url": server.base + "/quotes/{base}-{quote}.json",
        "json_value_path": "data.quote.price",
        "json_timestamp_path": "data.quote.updated",
    }
    values.update(overrides)
    return RatesConfig(**values)


@pytest.fixture
async def make_service() -> AsyncIterator[Any]:
    started: list[RateService] = []

    async def make(config: RatesConfig) -> RateService:
        service = RateService(config)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


# -- each provider's happy path ----------------------------------------------------------


async def test_kraken_ticker(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    upstream.set(KRAKEN_BTC_PATH, body=KRAKEN_XBTUSD)
    service = await make_service(rates_config(upstream))
    eth = await service.get_rate("ETH", "USD")
    assert (eth.value, eth.source) == (Fraction("3012.45"), "kraken")
    assert abs(eth.at / 1e6 - time.time()) < 5
    btc = await service.get_rate("BTC", "USD")  # BTC is XBT at Kraken
    assert btc.value == Fraction("60312.4")
    assert upstream.count(KRAKEN_BTC_PATH) == 1


async def test_coinbase_spot(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(COINBASE_ETH_PATH, body=COINBASE_ETH_USD)
    service = await make_service(rates_config(upstream, providers=("coinbase",)))
    rate = await service.get_rate("ETH", "USD")
    assert (rate.value, rate.source) == (Fraction("3011.875"), "coinbase")


@pytest.fixture
def east_of_utc() -> Iterator[None]:
    """Local time one hour east of UTC, so a naive time read as local would be off."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "CET-1"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def naive_iso(offset: float) -> str:
    return datetime.fromtimestamp(time.time() + offset, UTC).replace(tzinfo=None).isoformat()


@pytest.mark.parametrize(
    ("price", "at"),
    [
        ("3005.5", lambda: unix(-30)),
        (3005.5, lambda: iso(-30)),  # a JSON number: parsed as a decimal, never a float
        ("3005.5", lambda: str(unix(-30))),
        ("3005.5", lambda: naive_iso(-30)),
    ],
    ids=["unix", "iso", "unix-text", "naive-iso"],
)
async def test_generic_json_with_timestamp(
    upstream: TickerServer,
    make_service: Any,
    price: Any,
    at: Callable[[], Any],
    east_of_utc: None,
) -> None:
    upstream.set(JSON_ETH_PATH, body=generic_body(price, at()))
    service = await make_service(rates_config(upstream, providers=("json",)))
    rate = await service.get_rate("ETH", "USD")
    assert (rate.value, rate.source) == (Fraction("3005.5"), "json")
    # The provider's own time is kept (naive ISO times are UTC, not local time).
    assert 25 <= time.time() - rate.at / 1e6 <= 40


def test_parse_timestamp() -> None:
    assert parse_timestamp(1_800_000_000) == 1_800_000_000_000_000
    assert parse_timestamp(Decimal("1800000000.5")) == 1_800_000_000_500_000
    assert parse_timestamp("2027-01-15T08:00:00Z") == parse_timestamp("2027-01-15T09:00:00+01:00")
    assert parse_timestamp("2027-01-15T08:00:00") == parse_timestamp("2027-01-15T08:00:00Z")
    for bad in (True, None, "soon", 1_800_000_000_000, -5, Decimal("NaN"), [1]):
        with pytest.raises((ValueError, ArithmeticError)):
            parse_timestamp(bad)


# -- broken answers ----------------------------------------------------------------------

BROKEN = [
    # (providers, path, status, body, words in the error)
    ("kraken", KRAKEN_ETH_PATH, 200, b'{"error":[],"result":{"XETHZUSD":{"c":["30', "not JSON"),
    ("kraken", KRAKEN_ETH_PATH, 502, HTML_502, "kraken: HTTP 502"),
    ("kraken", KRAKEN_ETH_PATH, 200, KRAKEN_UNKNOWN_PAIR, "kraken: EQuery:Unknown asset pair"),
    ("kraken", KRAKEN_ETH_PATH, 200, KRAKEN_UNAVAILABLE, "kraken: EService:Unavailable"),
    (
        "kraken",
        KRAKEN_ETH_PATH,
        200,
        b'{"error":"EGeneral:Internal error"}',
        "kraken: EGeneral:Internal error",
    ),
    (
        "kraken",
        KRAKEN_ETH_PATH,
        200,
        b'{"error":[],"result":{"XETHZUSD":{"a":["1","1","1"]}}}',
        "no last trade price",
    ),
    ("kraken", KRAKEN_ETH_PATH, 200, b'{"error":[],"result":{}}', "no ticker for ETHUSD"),
    (
        "kraken",
        KRAKEN_ETH_PATH,
        200,
        b'{"error":[],"result":{"XETHZUSD":{"c":["0.00000","1"]}}}',
        "not positive",
    ),
    (
        "kraken",
        KRAKEN_ETH_PATH,
        200,
        b'{"error":[],"result":{"XETHZUSD":{"c":["n/a","1"]}}}',
        "not a decimal",
    ),
    ("kraken", KRAKEN_ETH_PATH, 200, b"[]", "unexpected response shape"),
    ("coinbase", COINBASE_ETH_PATH, 404, COINBASE_NOT_FOUND, "coinbase: HTTP 404"),
    ("coinbase", COINBASE_ETH_PATH, 200, b'{"errors":[]}', "no 'data'"),
    (
        "coinbase",
        COINBASE_ETH_PATH,
        200,
        b'{"data":{"base":"ETH","currency":"USD"}}',
        "not a number",
    ),
    ("coinbase", COINBASE_ETH_PATH, 200, COINBASE_BTC_USD, "answered for BTC/USD"),
    (
        "coinbase",
        COINBASE_ETH_PATH,
        200,
        b'{"data":{"amount":"1e999999999","base":"ETH","currency":"USD"}}',
        "out of range",
    ),
    (
        "coinbase",
        COINBASE_ETH_PATH,
        200,
        b'{"data":{"amount":"NaN","base":"ETH","currency":"USD"}}',
        "not positive",
    ),
    (
        "coinbase",
        COINBASE_ETH_PATH,
        200,
        b'{"data":{"amount":true,"base":"ETH","currency":"USD"}}',
        "not a number",
    ),
    ("coinbase", COINBASE_ETH_PATH, 200, b"", "not JSON"),
    ("json", JSON_ETH_PATH, 200, b'{"data":{"quote":{}}}', "no 'price'"),
    ("json", JSON_ETH_PATH, 200, lambda: generic_body("3000", unix(-3600)), "older than 300s"),
    ("json", JSON_ETH_PATH, 200, lambda: generic_body("3000", iso(-3600)), "older than 300s"),
    ("json", JSON_ETH_PATH, 200, lambda: generic_body("3000", unix(+3600)), "in the future"),
    ("json", JSON_ETH_PATH, 200, lambda: generic_body("3000", unix() * 1000), "no usable"),
    ("json", JSON_ETH_PATH, 200, generic_body("3000", "yesterday"), "no usable timestamp"),
    ("json", JSON_ETH_PATH, 200, b'{"data":{"quote":{"price":"3000"}}}', "no usable timestamp"),
    ("json", JSON_ETH_PATH, 503, b"", "json: HTTP 503"),
]


@pytest.mark.parametrize(("provider", "path", "status", "body", "words"), BROKEN)
async def test_broken_answers_are_unavailable(
    upstream: TickerServer,
    make_service: Any,
    provider: str,
    path: str,
    status: int,
    body: bytes | Callable[[], bytes],
    words: str,
) -> None:
    upstream.set(path, status=status, body=body() if callable(body) else body)
    service = await make_service(rates_config(upstream, providers=(provider,)))
    started = time.monotonic()
    with pytest.raises(RateUnavailable) as info:
        await service.get_rate("ETH", "USD")
    # Nothing pathological (a huge exponent must not build a billion-digit number, which
    # takes minutes); the bound is loose on purpose, machines here are shared.
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert message.startswith("no fresh ETH/USD rate (max age 300s): ")
    assert words in message, message
    assert upstream.count(path) == 1
    [status_] = service.snapshot()
    assert (status_.rate, status_.fresh) == (None, False)
    assert words in status_.error


async def test_timeout_and_refused_connection(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD, delay=1.5)  # timeout is 1 s
    service = await make_service(rates_config(upstream))
    with pytest.raises(RateUnavailable, match="kraken: timed out"):
        await service.get_rate("ETH", "USD")
    closed = f"http://127.0.0.1:{free_port()}"
    service = await make_service(rates_config(upstream, kraken_url=closed))
    with pytest.raises(RateUnavailable, match="kraken: ClientConnectorError"):
        await service.get_rate("ETH", "USD")


# -- freshness, fallback, markup, caching ------------------------------------------------


async def test_fallback_in_configured_order(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(KRAKEN_ETH_PATH, status=502, body=HTML_502)
    upstream.set(COINBASE_ETH_PATH, body=COINBASE_ETH_USD)
    service = await make_service(rates_config(upstream, providers=("kraken", "coinbase", "fixed")))
    rate = await service.get_rate("ETH", "USD")
    assert (rate.source, rate.value) == ("coinbase", Fraction("3011.875"))
    assert upstream.count(KRAKEN_ETH_PATH) == 1

    # Both HTTP providers down: the fixed table is the last resort.
    upstream.set(COINBASE_ETH_PATH, status=500)
    assert (await service._fetch_shared("ETH", "USD")).source == "fixed"

    # The primary answers again: the fallbacks are not asked at all.
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    before = upstream.count(COINBASE_ETH_PATH)
    assert (await service._fetch_shared("ETH", "USD")).source == "kraken"
    assert upstream.count(COINBASE_ETH_PATH) == before
    [status] = service.snapshot()
    assert (status.fresh, status.error, status.rate and status.rate.source) == (True, "", "kraken")


async def test_every_source_failing_names_each(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_UNAVAILABLE)
    upstream.set(COINBASE_ETH_PATH, status=429, body=b"{}")
    upstream.set(JSON_ETH_PATH, body=generic_body("3000", unix(-900)))
    service = await make_service(rates_config(upstream, providers=("kraken", "coinbase", "json")))
    with pytest.raises(RateUnavailable) as info:
        await service.get_rate("ETH", "USD")
    assert str(info.value) == (
        "no fresh ETH/USD rate (max age 300s): kraken: EService:Unavailable; "
        "coinbase: HTTP 429; json: quote is older than 300s"
    )


async def test_cached_while_fresh_never_used_stale(
    upstream: TickerServer, make_service: Any
) -> None:
    # The provider's quote is 298 s old with a 300 s maximum age: fresh for ~2 s more.
    upstream.set(JSON_ETH_PATH, body=generic_body("3000", unix(-298)))
    service = await make_service(rates_config(upstream, providers=("json",)))
    first = await service.get_rate("ETH", "USD")
    assert (await service.get_rate("ETH", "USD")) == first
    assert upstream.count(JSON_ETH_PATH) == 1  # served from the cache

    upstream.set(JSON_ETH_PATH, status=500)
    await async_wait_for(
        lambda: asyncio.sleep(0, result=not service.snapshot()[0].fresh), 10, "the rate to age"
    )
    # Stale and the provider failing: refused, never priced with the old rate.
    with pytest.raises(RateUnavailable, match="json: HTTP 500"):
        await service.get_rate("ETH", "USD")
    [status] = service.snapshot()
    assert status.rate == first and not status.fresh and "HTTP 500" in status.error


async def test_concurrent_callers_share_one_fetch(
    upstream: TickerServer, make_service: Any
) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD, delay=0.3)
    service = await make_service(rates_config(upstream))
    rates = await asyncio.gather(*(service.get_rate("ETH", "USD") for _ in range(20)))
    assert {r.value for r in rates} == {Fraction("3012.45")}
    assert upstream.count(KRAKEN_ETH_PATH) == 1

    # Same when the provider is down: one request, every caller gets the error.
    upstream.set(KRAKEN_ETH_PATH, status=503, delay=0.3)
    service = await make_service(rates_config(upstream))
    before = upstream.count(KRAKEN_ETH_PATH)
    results = await asyncio.gather(
        *(service.get_rate("ETH", "USD") for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, RateUnavailable) for r in results)
    assert upstream.count(KRAKEN_ETH_PATH) == before + 1


@pytest.mark.parametrize(
    ("percent", "expected"), [("2", "3012.45 / 1.02"), ("-1.5", "3012.45 / 0.985")]
)
async def test_markup(
    upstream: TickerServer, make_service: Any, percent: str, expected: str
) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    service = await make_service(rates_config(upstream, markup=Fraction(Decimal(percent)) / 100))
    numerator, denominator = expected.split(" / ")
    want = Fraction(numerator) / Fraction(denominator)
    assert (await service.get_rate("ETH", "USD")).value == want
    assert service.snapshot()[0].rate.value == want  # type: ignore[union-attr]
    # Applied once, not again on the cached rate; never to an identity rate.
    assert (await service.get_rate("ETH", "USD")).value == want
    assert (await service.get_rate("ETH", "ETH")).value == 1


async def test_background_refresh(upstream: TickerServer, make_service: Any) -> None:
    upstream.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    upstream.set(KRAKEN_BTC_PATH, body=KRAKEN_XBTUSD)
    service = await make_service(
        rates_config(upstream, pairs=(("ETH", "USD"), ("BTC", "USD")), refresh_seconds=1)
    )
    await async_wait_for(
        lambda: asyncio.sleep(0, result=all(s.fresh for s in service.snapshot())),
        10,
        "both pairs fetched in the background",
    )
    # A failing refresh keeps the (still fresh) rate and says what went wrong.
    upstream.set(KRAKEN_BTC_PATH, body=b"{")
    await async_wait_for(
        lambda: asyncio.sleep(0, result=service.snapshot()[1].error), 10, "a failed refresh"
    )
    eth, btc = service.snapshot()
    assert (eth.fresh, eth.error) == (True, "")
    assert btc.fresh and btc.rate is not None and "not JSON" in btc.error
    assert upstream.count(KRAKEN_ETH_PATH) >= 2


# -- end to end through the daemon -------------------------------------------------------


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory, tickers: TickerServer) -> Iterator[Daemon]:
    """A daemon pricing with Kraken, falling back to the generic JSON endpoint; rates
    refreshed every second and good for 2 s; 1 % markup."""
    tickers.reset()
    tickers.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    tickers.set(KRAKEN_BTC_PATH, body=KRAKEN_XBTUSD)
    workdir = tmp_path_factory.mktemp("rated")
    config = base_config(workdir / "data", 0)
    config["rates"] = {
        "providers": ["kraken", "json"],
        "pairs": ["ETH/USD", "BTC/USD"],
        "max_age_seconds": 2,
        "refresh_seconds": 1,
        "timeout_seconds": 1,
        "markup_percent": "1",
        "kraken": {"url": tickers.base},
        "json": {
            "url": tickers.base + "/quotes/{base}-{quote}.json",
            "value_path": "data.quote.price",
            "timestamp_path": "data.quote.updated",
        },
    }
    daemon = Daemon(workdir, config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def get_rates(daemon: Daemon) -> dict[str, pb.ExchangeRate]:
    reply = daemon.node.GetRates(pb.GetRatesRequest(), timeout=10)
    return {f"{r.base}/{r.quote}": r for r in reply.rates}


def written(daemon: Daemon) -> tuple[int, int]:
    info = daemon.node.GetInfo(pb.GetInfoRequest())
    listed = daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=1000)).invoices
    return info.last_event_sequence, len(listed)


def test_daemon_prices_with_fresh_marked_up_rates(rated: Daemon, tickers: TickerServer) -> None:
    rates = wait_for(
        lambda: (r := get_rates(rated)) and all(x.fresh for x in r.values()) and r,
        10,
        "fresh rates",
    )
    eth = rates["ETH/USD"]
    assert eth.source == "kraken"
    assert Decimal(eth.value) == (Decimal("3012.45") / Decimal("1.01")).quantize(
        Decimal("1e-18"), rounding="ROUND_DOWN"
    )
    assert eth.age_seconds <= 30 and eth.error == "" and eth.HasField("fetched_at")
    assert rates["BTC/USD"].source == "kraken"

    invoice = rated.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(amount="100.00", currency="USD", accepted_assets=["ETH"])
    )
    [option] = invoice.payment_options
    assert option.rate == eth.value  # the marked-up rate is what the invoice locks
    due = Decimal(option.amount_due)
    assert due * Decimal(option.rate) >= Decimal("100")  # rounded up, covers the amount
    assert due * Decimal("3012.45") > Decimal("100.99")  # 1 % more crypto than at par


def test_daemon_falls_back_then_refuses_without_fresh_rate(
    rated: Daemon, tickers: TickerServer
) -> None:
    # Kraken down: the generic JSON endpoint takes over.
    tickers.set(KRAKEN_ETH_PATH, status=502, body=HTML_502)
    tickers.set(KRAKEN_BTC_PATH, status=502, body=HTML_502)
    tickers.set(JSON_ETH_PATH, body=generic_body("2999.99", unix()))
    eth = wait_for(
        lambda: (r := get_rates(rated)["ETH/USD"]).source == "json" and r.fresh and r,
        10,
        "the fallback's rate",
    )
    assert Decimal(eth.value) == (Decimal("2999.99") / Decimal("1.01")).quantize(
        Decimal("1e-18"), rounding="ROUND_DOWN"
    )
    # Every source down: once the last rate is older than 2 s, nothing is priced.
    tickers.set(JSON_ETH_PATH, body=b'{"data": "maintenance"')
    btc = wait_for(lambda: (r := get_rates(rated)["BTC/USD"]) and not r.fresh and r, 10, "stale")
    assert "kraken: HTTP 502" in btc.error and "json: HTTP 404" in btc.error
    wait_for(lambda: not get_rates(rated)["ETH/USD"].fresh, 10, "ETH/USD to go stale")

    before = written(rated)
    with pytest.raises(grpc.RpcError) as info:
        rated.invoices.CreateInvoice(
            pb.CreateInvoiceRequest(amount="100.00", currency="USD", tracking_id="no-rate")
        )
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    details = info.value.details() or ""
    assert "cannot price" in details and "USD" in details and "no fresh" in details, details
    assert "kraken: HTTP 502" in details
    assert written(rated) == before
    # Invoices in an asset need no rate.
    rated.invoices.CreateInvoice(pb.CreateInvoiceRequest(amount="0.1", currency="ETH"))

    # Kraken back: fresh again, and fiat invoices work.
    tickers.set(KRAKEN_ETH_PATH, body=KRAKEN_ETHUSD)
    tickers.set(KRAKEN_BTC_PATH, body=KRAKEN_XBTUSD)
    wait_for(
        lambda: all(r.fresh and r.source == "kraken" for r in get_rates(rated).values()),
        10,
        "kraken's rates again",
    )
    invoice = rated.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(amount="100.00", currency="USD", tracking_id="no-rate")
    )
    assert len(invoice.payment_options) == 2


def test_daemon_config_path(tmp_path: Path) -> None:
    # Unknown keys and bad values in [rates] stop the daemon with the key named.
    from coinvoiced.config import ConfigError, parse

    config = base_config(tmp_path, 1)
    config["rates"] = {"providers": ["kraken", "bitstamp"]}
    with pytest.raises(ConfigError, match=r"rates.providers\[1\]"):
        parse(config)
    config["rates"] = {"providers": ["json"], "json": {"url": "http://x/{base}"}}
    with pytest.raises(ConfigError, match=r"rates\.json\.url"):
        parse(config)
