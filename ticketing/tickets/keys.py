"""The Ed25519 key that signs tickets: from TICKETING_TICKET_SIGNING_KEY, or made once into the
data directory, safely when several worker processes start at the same moment."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ticketing.settings import Settings

KEY_FILE = "ticket-signing-key.pem"
PEM_BEGIN = "-----BEGIN"


class SigningKeyError(Exception):
    """The configured key cannot be used (not a file, not PEM, not Ed25519)."""


@dataclass(frozen=True, slots=True)
class TicketKeys:
    """The signing key and what scanners are given of it."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public_key)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.public_pem).hexdigest()[:32] + '"'


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise SigningKeyError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


def _private_key(pem: bytes, origin: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{origin}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{origin}: the key is not an Ed25519 key")
    return key


def ticket_keys(settings: Settings, *, create: bool = True) -> TicketKeys:
    """The configured key; else the data directory's, made there first when `create`."""
    configured = settings.ticket_signing_key
    if configured is not None and configured.get_secret_value().strip():
        value = configured.get_secret_value().strip()
        if value.startswith(PEM_BEGIN):
            return TicketKeys(_private_key(value.encode(), "TICKETING_TICKET_SIGNING_KEY"))
        path = Path(value)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"TICKETING_TICKET_SIGNING_KEY: {exc}") from None
        return TicketKeys(_private_key(pem, str(path)))
    path = settings.data_dir / KEY_FILE
    if create and not path.exists():
        _create_key_file(path)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(
            f"no ticket-signing key: {path} does not exist (set TICKETING_TICKET_SIGNING_KEY)"
        ) from None
    return TicketKeys(_private_key(pem, str(path)))


def _create_key_file(path: Path) -> None:
    """Write a new key to a temporary file, then link it into place: linking fails when
    another process got there first, and every process then reads the one key that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
