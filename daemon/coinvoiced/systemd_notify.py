"""sd_notify(3) without a dependency: one datagram to $NOTIFY_SOCKET.

Used for Type=notify units: READY=1 after migrations and server start,
STOPPING=1 on shutdown. Does nothing when not started by systemd.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True
