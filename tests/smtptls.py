"""What the SMTP tests share (tests/test_outreach.py, tests/test_digest.py): a self-signed
certificate for 127.0.0.1 and a free loopback port for an aiosmtpd server."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in ``folder``: a one-day certificate for 127.0.0.1 and localhost."""
    crt, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(crt), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return crt, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
