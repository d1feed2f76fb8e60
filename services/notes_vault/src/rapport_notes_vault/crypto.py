"""Envelope encryption with Vault transit: one derived transit key per client, one data key per
record (context: the record id), the body sealed here with AES-GCM (associated data: record id
and version). Mongo only ever sees the wrapped data key and the ciphertext. Rotating a client's
key and rewrapping happen inside Vault (no plaintext key leaves it during a rewrap). Deleting
the client's key is crypto-shredding: every wrapped data key of that client becomes garbage."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import hvac.exceptions
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rapport_platform.errors import NotFound
from rapport_platform.vault import Vault

NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_version(wrapped: str) -> int:
    """`vault:v3:...` -> 3."""
    return int(wrapped.split(":", 2)[1].removeprefix("v"))


@dataclass(frozen=True)
class Sealed:
    wrapped_key: str  # the data key, encrypted by the client's transit key (vault:vN:...)
    nonce: bytes
    ciphertext: bytes  # AES-256-GCM, tag appended


class KeyGone(NotFound):
    """The client's key was destroyed (erasure): the records can never be read again."""


class Envelope:
    def __init__(self, vault: Vault, *, key_prefix: str) -> None:
        self.vault = vault
        self.prefix = key_prefix
        self._known: set[str] = set()

    def key_name(self, client_id: str) -> str:
        return f"{self.prefix}{client_id}"

    async def ensure_key(self, client_id: str) -> str:
        name = self.key_name(client_id)
        if name not in self._known:
            mount = self.vault.mount

            def create(c: hvac.Client) -> None:
                # Idempotent: creating an existing key changes nothing.
                c.secrets.transit.create_key(
                    name, key_type="aes256-gcm96", derived=True, mount_point=mount
                )

            await self.vault.call("transit_create_key", create)
            self._known.add(name)
        return name

    async def seal(self, client_id: str, context_id: str, aad: bytes, plaintext: bytes) -> Sealed:
        name = await self.ensure_key(client_id)
        mount = self.vault.mount
        context = _b64(context_id.encode())
        reply = await self.vault.call(
            "transit_datakey",
            lambda c: c.secrets.transit.generate_data_key(
                name, key_type="plaintext", context=context, mount_point=mount
            ),
        )
        key = base64.b64decode(reply["data"]["plaintext"])
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
        return Sealed(reply["data"]["ciphertext"], nonce, ciphertext)

    async def open(self, client_id: str, context_id: str, aad: bytes, sealed: Sealed) -> bytes:
        name = self.key_name(client_id)
        mount = self.vault.mount
        context = _b64(context_id.encode())
        try:
            reply = await self.vault.call(
                "transit_decrypt",
                lambda c: c.secrets.transit.decrypt_data(
                    name, sealed.wrapped_key, context=context, mount_point=mount
                ),
            )
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath):
            raise KeyGone("this record was erased") from None
        key = base64.b64decode(reply["data"]["plaintext"])
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, aad)

    async def latest_version(self, client_id: str) -> int:
        name = self.key_name(client_id)
        mount = self.vault.mount
        reply = await self.vault.call(
            "transit_read_key", lambda c: c.secrets.transit.read_key(name, mount_point=mount)
        )
        return int(reply["data"]["latest_version"])

    async def rotate(self, client_id: str) -> int:
        name = self.key_name(client_id)
        mount = self.vault.mount
        await self.vault.call(
            "transit_rotate", lambda c: c.secrets.transit.rotate_key(name, mount_point=mount)
        )
        return await self.latest_version(client_id)

    async def rewrap(self, client_id: str, context_id: str, wrapped: str) -> str:
        name = self.key_name(client_id)
        mount = self.vault.mount
        context = _b64(context_id.encode())
        reply = await self.vault.call(
            "transit_rewrap",
            lambda c: c.secrets.transit.rewrap_data(
                name, wrapped, context=context, mount_point=mount
            ),
        )
        return str(reply["data"]["ciphertext"])

    async def shred(self, client_id: str) -> None:
        """Destroy the client's key in Vault, for good."""
        name = self.key_name(client_id)
        mount = self.vault.mount

        def destroy(c: hvac.Client) -> None:
            try:
                c.secrets.transit.update_key_configuration(
                    name, deletion_allowed=True, mount_point=mount
                )
            except (hvac.exceptions.InvalidPath, hvac.exceptions.InvalidRequest):
                return  # never created, or already gone
            c.secrets.transit.delete_key(name, mount_point=mount)

        await self.vault.call("transit_delete_key", destroy)
        self._known.discard(name)
