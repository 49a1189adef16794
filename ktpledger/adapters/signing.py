"""Ed25519 keys for signing checkpoints (`domain/anchor.py`), kept in files outside the database.

Ed25519 rather than an HMAC: an auditor checks a checkpoint with the public key alone, and cannot
make one; and its signatures are deterministic, so the same checkpoint is always the same bytes.
Signatures are written in lower-case hex, as the hashes are. The private key is a PEM file (PKCS#8, unencrypted: the service must sign unattended; it is
protected by its file mode, 0600, and by being kept off the database's machine and backups), the
public key a PEM file (SubjectPublicKeyInfo), as `openssl genpkey -algorithm ed25519` and
`openssl pkey -pubout` write them.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ktpledger.domain.anchor import ALGORITHM, Signature

PRIVATE_MODE = 0o600


class KeyFileError(ValueError):
    """A key file that cannot be used: names the file and the setting, and what to do."""


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its 32 raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    """Signs with a private key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    def sign(self, data: bytes) -> Signature:
        return Signature(ALGORITHM, self.key_id, self._private.sign(data).hex())


class Verifier:
    """Checks signatures with a public key."""

    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public
        self.key_id = key_id(public)

    def verify(self, data: bytes, signature: Signature) -> bool:
        if signature.algorithm != ALGORITHM:
            return False
        try:
            self._public.verify(bytes.fromhex(signature.value), data)
        except (InvalidSignature, ValueError):
            return False
        return True


def load_signer(path: str, *, setting: str = "KTPLEDGER_CHECKPOINT_KEY") -> Signer:
    """The private key in the PEM file at `path`."""
    text = _read(path, setting)
    try:
        key = serialization.load_pem_private_key(text, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(
            f"{setting}: {path} is not an unencrypted PEM private key ({error}); "
            "make a key pair with `ktpledger checkpoint keygen --out FILE`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{setting}: {path} holds a {type(key).__name__}, not an Ed25519 private key")
    return Signer(key)


def load_verifier(path: str, *, setting: str = "KTPLEDGER_CHECKPOINT_PUBLIC_KEY") -> Verifier:
    """The public key in the PEM file at `path` (a private key file gives its public half)."""
    text = _read(path, setting)
    try:
        key = serialization.load_pem_public_key(text)
    except ValueError:
        try:
            private = serialization.load_pem_private_key(text, password=None)
        except (ValueError, TypeError) as error:
            raise KeyFileError(f"{setting}: {path} is not a PEM public key ({error})") from None
        key = private.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{setting}: {path} holds a {type(key).__name__}, not an Ed25519 public key")
    return Verifier(key)


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise KeyFileError(f"{setting}: cannot read the key file {path}: {error.strerror or error}") from None


def private_key_exposed(path: str) -> bool:
    """True if the private key file may be read by others than its owner (it should be 0600)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def generate(out: Path) -> tuple[Path, Path, str]:
    """A new key pair: the private key in `out` (mode 0600), the public key in `out` + ".pub".
    Refuses to overwrite either file. Returns (private path, public path, key id)."""
    public_path = out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists():
            raise KeyFileError(f"{path} exists: a key is never overwritten (move it away first)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except OSError as error:
        raise KeyFileError(f"cannot create {out}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    out.chmod(PRIVATE_MODE)  # whatever the umask
    try:
        public_path.write_bytes(public_pem)
    except OSError as error:
        raise KeyFileError(f"cannot create {public_path}: {error.strerror or error}") from None
    return out, public_path, key_id(private.public_key())
