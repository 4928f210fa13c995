"""Configuration: a TOML file, validated strictly at start-up.

Every problem is reported as one ConfigError whose message names the key
("chains[0].xpub: missing"), and the daemon exits non-zero. Unknown keys are
errors too: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .chains.derivation import SCRIPT_TYPES, UTXO_NETWORKS, EvmDeriver, UtxoDeriver
from .domain.model import Policy, UnresolvedReason

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_EVM_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


class ConfigError(Exception):
    """A configuration problem; str() is the one line shown to the operator."""


@dataclass(frozen=True, slots=True)
class AssetConfig:
    code: str
    decimals: int
    chain: str
    contract: str | None = None  # ERC-20 contract (lowercase hex); None for the native coin


@dataclass(frozen=True, slots=True)
class ChainConfig:
    name: str
    kind: str  # "evm" | "electrum"
    xpub: str
    required_confirmations: int
    assets: tuple[AssetConfig, ...]
    # evm
    chain_id: int = 0
    ws_url: str = ""
    http_url: str = ""
    # electrum
    network: str = ""
    servers: tuple[str, ...] = ()
    gap_limit: int = 20
    # (server URL, PEM file): TLS servers whose exact (self-signed) certificate is pinned
    pinned_certificates: tuple[tuple[str, str], ...] = ()
    ping_interval_seconds: int = 60
    # "" = from the key's version bytes (zpub/vpub P2WPKH, ypub/upub P2SH-P2WPKH,
    # xpub/tpub P2PKH); "p2tr" for a BIP86 account key.
    script_type: str = ""


RATE_PROVIDERS = ("fixed", "kraken", "coinbase", "json")


@dataclass(frozen=True, slots=True)
class RatesConfig:
    providers: tuple[str, ...]  # tried in this order
    pairs: tuple[tuple[str, str], ...]  # (asset, currency) pairs kept fresh
    max_age_seconds: int
    refresh_seconds: int
    timeout_seconds: int
    markup: Fraction  # +0.01 makes payers pay 1 % more crypto; negative is a discount
    fixed: dict[tuple[str, str], Fraction]
    kraken_url: str
    coinbase_url: str
    json_url: str  # with {base} and {quote} placeholders
    json_value_path: str
    json_timestamp_path: str


@dataclass(frozen=True, slots=True)
class CallbacksConfig:
    default_url: str
    default_secret: str
    events: frozenset[int]  # EventType values sent; all by default
    max_retries: int
    max_age_seconds: int
    timeout_seconds: int
    max_in_flight: int
    allow_private_addresses: bool
    backoff_initial_ms: int
    backoff_max_seconds: int


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: str
    grace_seconds: int
    tls: bool  # resolved from "auto": on unless the listener is loopback
    tls_cert: Path | None  # operator-provided; None: generated in data_dir
    tls_key: Path | None
    tls_extra_names: tuple[str, ...]
    unix_socket: Path | None
    max_concurrent_streams: int
    max_request_bytes: int


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    create_invoice_per_minute: int
    create_invoice_burst: int
    failed_auth_per_minute: int


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    profile: str
    server: ServerConfig
    security: SecurityConfig
    metrics_listen: str  # "" = no metrics endpoint
    data_dir: Path
    log_level: str
    log_format: str
    default_expiry_seconds: int
    max_expiry_seconds: int
    monitoring_window_seconds: int
    policy: Policy
    fiat: dict[str, int]  # code -> decimals
    rates: RatesConfig
    callbacks: CallbacksConfig
    chains: tuple[ChainConfig, ...]
    assets: dict[str, AssetConfig] = field(default_factory=dict)

    def chain(self, name: str) -> ChainConfig:
        return next(c for c in self.chains if c.name == name)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "coinvoice.sqlite"


class _Section:
    """Reads keys from one TOML table; unknown keys and bad types name their path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path or 'config'}: expected a table")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is ...:
                raise ConfigError(f"{self.key(name)}: missing")
            return default
        value = self.data[name]
        if isinstance(value, bool) and kind is not bool:
            raise ConfigError(f"{self.key(name)}: expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise ConfigError(f"{self.key(name)}: expected {_kind_name(kind)}")
        return value

    def int_in(self, name: str, low: int, high: int, default: Any = ...) -> int:
        value = self.get(name, int, default)
        if not low <= value <= high:
            raise ConfigError(f"{self.key(name)}: must be between {low} and {high}")
        return value

    def section(self, name: str) -> _Section:
        return _Section(self.get(name, dict, {}), self.key(name))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "a list",
        dict: "a table",
        float: "a number",
    }
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _percent(section: _Section, name: str) -> Fraction:
    raw = section.get(name, (str, int), "0")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"{section.key(name)}: not a decimal number") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise ConfigError(f"{section.key(name)}: must be between 0 and 100")
    return Fraction(value) / 100


def _url(section: _Section, name: str, schemes: tuple[str, ...], default: Any = ...) -> str:
    value = section.get(name, str, default)
    if value == "" and default == "":
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ConfigError(
            f"{section.key(name)}: {value!r} is not a valid URL ({'/'.join(schemes)}://host:port)"
        )
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{section.key(name)}: {value!r} has an invalid port") from None
    return value


def _assets(chain: _Section, chain_name: str, kind: str) -> tuple[AssetConfig, ...]:
    raw = chain.get("assets", list)
    if not raw:
        raise ConfigError(f"{chain.key('assets')}: at least one asset is required")
    assets = []
    natives = 0
    for i, entry in enumerate(raw):
        s = _Section(entry, f"{chain.key('assets')}[{i}]")
        code = s.get("code", str)
        if not _CODE_RE.match(code):
            raise ConfigError(f"{s.key('code')}: {code!r} must be 2-10 upper-case letters/digits")
        decimals = s.int_in("decimals", 0, 36)
        contract = s.get("contract", str, None)
        if contract is not None:
            if kind != "evm":
                raise ConfigError(f"{s.key('contract')}: tokens are only supported on evm chains")
            if not _EVM_ADDRESS_RE.match(contract):
                raise ConfigError(f"{s.key('contract')}: {contract!r} is not a 0x address")
            contract = contract.lower()
        else:
            natives += 1
        s.done()
        assets.append(AssetConfig(code, decimals, chain_name, contract))
    if natives > 1:
        raise ConfigError(f"{chain.key('assets')}: only one native asset (without contract)")
    return tuple(assets)


def _pinned_certificates(section: _Section, servers: list[str]) -> tuple[tuple[str, str], ...]:
    """Electrum `pinned_certificates = { "ssl://host:port" = "/path/cert.pem" }`: the server
    must present exactly that certificate (self-signed ones are the norm)."""
    import ssl

    pins: list[tuple[str, str]] = []
    for url in list(section.data):
        key = section.key(f'"{url}"')
        path = section.get(url, str)
        if url not in servers or not url.startswith("ssl://"):
            raise ConfigError(f"{key}: not one of this chain's ssl:// servers")
        try:
            ssl.PEM_cert_to_DER_cert(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path} ({exc.strerror})") from None
        except ValueError:
            raise ConfigError(f"{key}: {path} is not a PEM certificate") from None
        pins.append((url, path))
    section.done()
    return tuple(pins)


def _chain(s: _Section) -> ChainConfig:
    name = s.get("name", str)
    if not _NAME_RE.match(name):
        raise ConfigError(f"{s.key('name')}: {name!r} must be lower-case letters, digits, - or _")
    kind = s.get("kind", str)
    if kind not in ("evm", "electrum"):
        raise ConfigError(f"{s.key('kind')}: {kind!r} is not one of evm, electrum")
    xpub = s.get("xpub", str)
    confirmations = s.int_in("required_confirmations", 1, 1000, 1 if kind == "evm" else 2)
    assets = _assets(s, name, kind)
    if kind == "evm":
        try:
            EvmDeriver(xpub)
        except Exception as exc:
            raise ConfigError(
                f"{s.key('xpub')}: not a usable extended public key ({exc})"
            ) from None
        chain = ChainConfig(
            name=name,
            kind=kind,
            xpub=xpub,
            required_confirmations=confirmations,
            assets=assets,
            chain_id=s.int_in("chain_id", 1, 2**53),
            ws_url=_url(s, "ws_url", ("ws", "wss")),
            http_url=_url(s, "http_url", ("http", "https"), ""),
        )
    else:
        network = s.get("network", str)
        if network not in UTXO_NETWORKS:
            raise ConfigError(
                f"{s.key('network')}: {network!r} is not one of {', '.join(UTXO_NETWORKS)}"
            )
        script_type = s.get("script_type", str, "")
        if script_type and script_type not in SCRIPT_TYPES:
            raise ConfigError(
                f"{s.key('script_type')}: {script_type!r} is not one of {', '.join(SCRIPT_TYPES)}"
            )
        try:
            UtxoDeriver(xpub, network, script_type or None)
        except Exception as exc:
            raise ConfigError(
                f"{s.key('xpub')}: not a usable extended public key ({exc})"
            ) from None
        servers = s.get("servers", list)
        if not servers:
            raise ConfigError(f"{s.key('servers')}: at least one server is required")
        for i, server in enumerate(servers):
            sub = _Section({"url": server}, f"{s.key('servers')}[{i}]")
            _url(sub, "url", ("tcp", "ssl"))
        chain = ChainConfig(
            name=name,
            kind=kind,
            xpub=xpub,
            required_confirmations=confirmations,
            assets=assets,
            network=network,
            servers=tuple(servers),
            gap_limit=s.int_in("gap_limit", 1, 100_000, 20),
            pinned_certificates=_pinned_certificates(s.section("pinned_certificates"), servers),
            ping_interval_seconds=s.int_in("ping_interval_seconds", 5, 3600, 60),
            script_type=script_type,
        )
    s.done()
    return chain


def _pair(
    key: str, pair: str, assets: dict[str, AssetConfig], fiat: dict[str, int]
) -> tuple[str, str]:
    base, _, quote = pair.partition("/")
    if base not in assets:
        raise ConfigError(f"{key}: unknown asset {base!r}")
    if quote not in fiat and quote not in assets:
        raise ConfigError(f"{key}: unknown currency {quote!r}")
    return base, quote


def _rates(section: _Section, assets: dict[str, AssetConfig], fiat: dict[str, int]) -> RatesConfig:
    providers = section.get("providers", list, ["fixed"])
    if not providers:
        raise ConfigError(f"{section.key('providers')}: name at least one provider")
    for i, name in enumerate(providers):
        if name not in RATE_PROVIDERS:
            raise ConfigError(
                f"{section.key('providers')}[{i}]: {name!r} is not one of "
                f"{', '.join(RATE_PROVIDERS)}"
            )
    default_pairs = [f"{a}/{f}" for a in assets for f in fiat]
    pairs_raw = section.get("pairs", list, default_pairs)
    pairs = tuple(
        _pair(f"{section.key('pairs')}[{i}]", str(p), assets, fiat) for i, p in enumerate(pairs_raw)
    )
    markup_raw = section.get("markup_percent", (str, int), "0")
    try:
        markup = Decimal(str(markup_raw))
    except InvalidOperation:
        raise ConfigError(f"{section.key('markup_percent')}: not a decimal number") from None
    if not markup.is_finite() or not -50 <= markup <= 100:
        raise ConfigError(f"{section.key('markup_percent')}: must be between -50 and 100")

    fixed_section = section.section("fixed")
    fixed: dict[tuple[str, str], Fraction] = {}
    for pair in list(fixed_section.data):
        key = fixed_section.key(f'"{pair}"')
        base, quote = _pair(key, pair, assets, fiat)
        raw = fixed_section.get(pair, (str, int))
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise ConfigError(f"{key}: not a decimal number") from None
        if not value.is_finite() or value <= 0:
            raise ConfigError(f"{key}: must be a positive decimal")
        fixed[(base, quote)] = Fraction(value)
    fixed_section.done()

    kraken = section.section("kraken")
    kraken_url = _url(kraken, "url", ("http", "https"), "https://api.kraken.com")
    kraken.done()
    coinbase = section.section("coinbase")
    coinbase_url = _url(coinbase, "url", ("http", "https"), "https://api.coinbase.com")
    coinbase.done()
    json_section = section.section("json")
    json_url = json_section.get("url", str, "")
    if "json" in providers:
        _url(json_section, "url", ("http", "https"))
        if "{base}" not in json_url or "{quote}" not in json_url:
            raise ConfigError(f"{json_section.key('url')}: must contain {{base}} and {{quote}}")
    value_path = json_section.get("value_path", str, "")
    if "json" in providers and not value_path:
        raise ConfigError(f"{json_section.key('value_path')}: missing")
    timestamp_path = json_section.get("timestamp_path", str, "")
    json_section.done()

    result = RatesConfig(
        providers=tuple(providers),
        pairs=pairs,
        max_age_seconds=section.int_in("max_age_seconds", 1, 86400, 300),
        refresh_seconds=section.int_in("refresh_seconds", 1, 86400, 60),
        timeout_seconds=section.int_in("timeout_seconds", 1, 120, 10),
        markup=Fraction(markup) / 100,
        fixed=fixed,
        kraken_url=kraken_url,
        coinbase_url=coinbase_url,
        json_url=json_url,
        json_value_path=value_path,
        json_timestamp_path=timestamp_path,
    )
    section.done()
    return result


def _callbacks(section: _Section) -> CallbacksConfig:
    from .domain.model import EventType

    default_url = section.get("default_url", str, "")
    if default_url:
        _url(section, "default_url", ("http", "https"))
    default_secret = section.get("default_secret", str, "")
    if default_secret and not 16 <= len(default_secret) <= 256:
        raise ConfigError(f"{section.key('default_secret')}: must be 16 to 256 characters")
    names = section.get("events", list, [e.name for e in EventType])
    events: set[int] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or name not in EventType.__members__:
            raise ConfigError(
                f"{section.key('events')}[{i}]: {name!r} is not an event type "
                "(INVOICE_PAID, PAYMENT_DETECTED, ...)"
            )
        events.add(int(EventType[name]))
    result = CallbacksConfig(
        default_url=default_url,
        default_secret=default_secret,
        events=frozenset(events),
        max_retries=section.int_in("max_retries", 0, 20, 8),
        max_age_seconds=section.int_in("max_age_seconds", 60, 30 * 86400, 3 * 86400),
        timeout_seconds=section.int_in("timeout_seconds", 1, 120, 10),
        max_in_flight=section.int_in("max_in_flight", 1, 1000, 16),
        allow_private_addresses=section.get("allow_private_addresses", bool, False),
        backoff_initial_ms=section.int_in("backoff_initial_ms", 10, 3_600_000, 5000),
        backoff_max_seconds=section.int_in("backoff_max_seconds", 1, 86400, 3600),
    )
    section.done()
    return result


_HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


def _server(section: _Section, base_dir: Path) -> ServerConfig:
    listen = section.get("listen", str, "127.0.0.1:50051")
    if not _HOST_PORT_RE.match(listen):
        raise ConfigError(f"{section.key('listen')}: {listen!r} is not host:port")
    tls_mode = section.get("tls", str, "auto")
    if tls_mode not in ("auto", "on", "off"):
        raise ConfigError(f"{section.key('tls')}: {tls_mode!r} is not auto, on or off")
    host = listen.rsplit(":", 1)[0]
    tls = tls_mode == "on" or (tls_mode == "auto" and host not in LOOPBACK_HOSTS)

    def optional_path(name: str) -> Path | None:
        raw = section.get(name, str, "")
        return None if not raw else (base_dir / raw).resolve()

    cert, key = optional_path("tls_cert"), optional_path("tls_key")
    if (cert is None) != (key is None):
        raise ConfigError(f"{section.key('tls_cert')}: set both tls_cert and tls_key, or neither")
    for name, file in (("tls_cert", cert), ("tls_key", key)):
        if file is not None and not file.is_file():
            raise ConfigError(f"{section.key(name)}: {file} does not exist")
    extra = section.get("tls_extra_names", list, [])
    for i, name in enumerate(extra):
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9.:-]{1,253}$", name):
            raise ConfigError(f"{section.key('tls_extra_names')}[{i}]: not a host name or IP")
    result = ServerConfig(
        listen=listen,
        grace_seconds=section.int_in("grace_seconds", 0, 300, 5),
        tls=tls,
        tls_cert=cert,
        tls_key=key,
        tls_extra_names=tuple(extra),
        unix_socket=optional_path("unix_socket"),
        max_concurrent_streams=section.int_in("max_concurrent_streams", 1, 100_000, 1000),
        max_request_bytes=section.int_in("max_request_bytes", 1024, 64 << 20, 1 << 20),
    )
    section.done()
    return result


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    root = _Section(data, "")
    profile = root.get("profile", str, "dev")

    base_dir = path.parent if path is not None else Path.cwd()
    server = _server(root.section("server"), base_dir)
    security_section = root.section("security")
    security = SecurityConfig(
        create_invoice_per_minute=security_section.int_in(
            "create_invoice_per_minute", 1, 1_000_000, 600
        ),
        create_invoice_burst=security_section.int_in("create_invoice_burst", 1, 1_000_000, 100),
        failed_auth_per_minute=security_section.int_in("failed_auth_per_minute", 1, 10_000, 30),
    )
    security_section.done()
    metrics_section = root.section("metrics")
    metrics_listen = metrics_section.get("listen", str, "")
    if metrics_listen and not _HOST_PORT_RE.match(metrics_listen):
        raise ConfigError(f"metrics.listen: {metrics_listen!r} is not host:port")
    metrics_section.done()

    storage = root.section("storage")
    data_dir = Path(storage.get("data_dir", str, "./data"))
    if path is not None and not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    storage.done()

    logging_ = root.section("logging")
    log_level = logging_.get("level", str, "info").lower()
    if log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"logging.level: {log_level!r} is not debug/info/warning/error")
    log_format = logging_.get("format", str, "text")
    if log_format not in ("text", "json"):
        raise ConfigError(f"logging.format: {log_format!r} is not text or json")
    logging_.done()

    inv = root.section("invoices")
    default_expiry = inv.int_in("default_expiry_seconds", 60, 30 * 86400, 900)
    max_expiry = inv.int_in("max_expiry_seconds", 60, 365 * 86400, 30 * 86400)
    window = inv.int_in("monitoring_window_seconds", 0, 365 * 86400, 86400)
    under = _percent(inv, "underpaid_tolerance_percent")
    over = _percent(inv, "overpaid_tolerance_percent")
    auto_raw = inv.get("auto_accept", list, [])
    auto: set[UnresolvedReason] = set()
    for i, item in enumerate(auto_raw):
        choices = {"paid_late": UnresolvedReason.PAID_LATE, "overpaid": UnresolvedReason.OVERPAID}
        if item not in choices:
            raise ConfigError(f"invoices.auto_accept[{i}]: {item!r} is not paid_late or overpaid")
        auto.add(choices[item])
    inv.done()

    fiat_section = root.section("fiat")
    fiat: dict[str, int] = {}
    for code in list(fiat_section.data) or []:
        if not _CODE_RE.match(code):
            raise ConfigError(f"fiat.{code}: fiat codes are upper-case, such as USD")
        fiat[code] = fiat_section.int_in(code, 0, 8)
    fiat_section.done()
    if not fiat_section.data:
        fiat = {"USD": 2, "EUR": 2}

    chains_raw = root.get("chains", list, [])
    chains = tuple(_chain(_Section(c, f"chains[{i}]")) for i, c in enumerate(chains_raw))
    assets: dict[str, AssetConfig] = {}
    names: set[str] = set()
    for i, chain in enumerate(chains):
        if chain.name in names:
            raise ConfigError(f"chains[{i}].name: {chain.name!r} is used twice")
        names.add(chain.name)
        for asset in chain.assets:
            if asset.code in assets or asset.code in fiat:
                raise ConfigError(f"chains[{i}].assets: code {asset.code!r} is used twice")
            assets[asset.code] = asset

    rates = _rates(root.section("rates"), assets, fiat)
    callbacks = _callbacks(root.section("callbacks"))
    root.done()

    return Config(
        path=path,
        profile=profile,
        server=server,
        security=security,
        metrics_listen=metrics_listen,
        data_dir=data_dir,
        log_level=log_level,
        log_format=log_format,
        default_expiry_seconds=default_expiry,
        max_expiry_seconds=max_expiry,
        monitoring_window_seconds=window,
        policy=Policy(under, over, frozenset(auto)),
        fiat=fiat,
        rates=rates,
        callbacks=callbacks,
        chains=chains,
        assets=assets,
    )


def load(path: Path) -> Config:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse(data, path)
