"""Finding the daemon's credentials the way lncli does: flags first, then the environment,
then the daemon's data directory.

- API key: --api-key, $COINVOICE_API_KEY, --key-file, $COINVOICE_KEY_FILE, then
  `admin.key` in the first data directory that has one.
- TLS: --tls-cert, $COINVOICE_TLS_CERT, then `tls.cert` in that data directory
  (the daemon writes one only when it serves TLS). --no-tls forces plaintext.
- Data directories searched: --datadir, $COINVOICE_DATA_DIR, ./data, /var/lib/coinvoice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc

DEFAULT_DATA_DIRS = (Path("data"), Path("/var/lib/coinvoice"))
KEY_FILE = "admin.key"
CERT_FILE = "tls.cert"


@dataclass(frozen=True)
class Credentials:
    api_key: str | None
    tls_cert: bytes | None  # PEM of the certificate to trust; None: plaintext
    key_source: str  # where the key came from, for error messages

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        return None if self.tls_cert is None else grpc.ssl_channel_credentials(self.tls_cert)

    def metadata(self) -> list[tuple[str, str]]:
        return [] if self.api_key is None else [("authorization", f"Bearer {self.api_key}")]


def _readable(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.R_OK)
    except OSError:
        return False


def data_dirs(explicit: str | None) -> list[Path]:
    dirs = [Path(explicit)] if explicit else []
    if os.environ.get("COINVOICE_DATA_DIR"):
        dirs.append(Path(os.environ["COINVOICE_DATA_DIR"]))
    return dirs + list(DEFAULT_DATA_DIRS)


def find(
    *,
    api_key: str | None = None,
    key_file: str | None = None,
    tls_cert: str | None = None,
    datadir: str | None = None,
    no_tls: bool = False,
) -> Credentials:
    key, source = api_key or os.environ.get("COINVOICE_API_KEY"), "--api-key"
    found_dir: Path | None = None
    if not key:
        file = key_file or os.environ.get("COINVOICE_KEY_FILE")
        if file:
            key, source = Path(file).read_text().strip(), file
    if not key:
        for directory in data_dirs(datadir):
            if _readable(directory / KEY_FILE):
                found_dir = directory
                key, source = (directory / KEY_FILE).read_text().strip(), str(directory / KEY_FILE)
                break
    cert: bytes | None = None
    if not no_tls:
        cert_path = tls_cert or os.environ.get("COINVOICE_TLS_CERT")
        if cert_path:
            cert = Path(cert_path).read_bytes()
        else:
            for directory in [found_dir] if found_dir else data_dirs(datadir):
                if _readable(directory / CERT_FILE):
                    cert = (directory / CERT_FILE).read_bytes()
                    break
    return Credentials(key or None, cert, source if key else "none found")
