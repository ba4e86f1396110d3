"""The node's Ed25519 identity: a private key file readable only by its owner, or the env."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scamshare.public_keys import encode_public

KEY_FILE = "node_key.pem"


class IdentityError(Exception):
    """The node key is missing or unreadable."""


@dataclass(frozen=True)
class NodeIdentity:
    """This node's signing key."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        """The public key as peers register it."""
        return encode_public(self.private_key.public_key())

    def sign(self, message: bytes) -> str:
        """Sign a message; return the signature as URL-safe base64."""
        return base64.urlsafe_b64encode(self.private_key.sign(message)).decode()


def key_path(data_dir: str) -> Path:
    """Where the node's private key file lives."""
    return Path(data_dir) / KEY_FILE


def _from_pem(pem: bytes) -> NodeIdentity:
    """Load an identity from PEM (PKCS#8) bytes."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError("the node key must be an Ed25519 private key")
    return NodeIdentity(key)


def load(data_dir: str, env_key: str = "") -> NodeIdentity:
    """Load the node key from SCAMSHARE_NODE_KEY (PEM) or the data directory's key file."""
    if env_key:
        return _from_pem(env_key.encode())
    path = key_path(data_dir)
    if not path.exists():
        raise IdentityError(
            f"this node has no key yet: run `scamshare node init` (looked for {path})"
        )
    return _from_pem(path.read_bytes())


def create(data_dir: str, *, force: bool = False) -> NodeIdentity:
    """Create a new key file, readable and writable by its owner only."""
    path = key_path(data_dir)
    if path.exists() and not force:
        raise IdentityError(f"{path} exists; pass --force to replace the node's identity")
    node = NodeIdentity(Ed25519PrivateKey.generate())
    write(path, node)
    return node


def write(path: Path, node: NodeIdentity) -> None:
    """Write a key file, readable and writable by its owner only, replacing any at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = node.private_key
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the first byte: never world-readable, not even for an instant; then
    # swap it in whole, so that a reader sees the old key or the new one, never half of one.
    partial = path.with_name(path.name + ".new")
    if partial.exists():
        partial.unlink()
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.replace(partial, path)
