"""Pseudonymisation keys and the keyed pseudonyms built from them.

PIPA (and GDPR Art. 4(5)) require the "additional information" that could reverse a
pseudonym to be kept apart from the data. Here that is one master secret per
deployment, held as a ``SecretStr`` and never logged. Every key in use is derived from
it with HKDF-SHA-256 (RFC 5869), separated by purpose, key id and shop:

- salt: :data:`HKDF_SALT`; length: :data:`HKDF_KEY_BYTES`;
- info: :data:`HKDF_INFO_PREFIX`, then for each of *purpose*, *key id*, *shop id* its
  UTF-8 bytes preceded by their length as a 4-byte big-endian integer (length-prefixed,
  so that no choice of shop id can make two different triples collide).

So one shop's key reveals nothing about another's; identifiers and contact data
(phone, e-mail) use different keys, so a join between them needs both; and a new
``key_id`` rotates every key at once while the old id keeps reproducing old pseudonyms.

Pseudonyms are HMAC-SHA-256, never plain or salted hashes: a Korean mobile number is
one of about 10^8 values, which anyone can hash exhaustively.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from hashlib import sha256
from typing import Final, NoReturn

import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from shopstream.processors.privacy.errors import KeyMaterialError, MasterKeyTooShortError

HKDF_SALT: Final = b"shopstream/pseudonym-keys/v1"
HKDF_INFO_PREFIX: Final = b"shopstream/pseudonym-key"
HKDF_KEY_BYTES: Final = 32
IDENTIFIER_PURPOSE: Final = "identifier"
"""buyer_id, anonymous_id, session_id."""
CONTACT_PURPOSE: Final = "contact"
"""Phone numbers and e-mail addresses, when they must stay linkable."""
MIN_MASTER_BYTES: Final = 16
PHONE_REGION: Final = "KR"
"""Numbers without a country code are read as Korean."""

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# Enough for every shop of a large hosting platform; derivation is cheap if it overflows.
_CACHE_SIZE = 16_384
_RECENT_SIZE = 65_536
"""Pseudonyms remembered per kind (identifiers, contacts); the memory is emptied when full."""
# Deliberately loose: one '@', something before it, a dot in the domain, no spaces.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def hkdf_info(purpose: str, key_id: str, shop_id: str) -> bytes:
    """The HKDF ``info`` that names one derived key (layout in the module docstring)."""
    parts = (purpose, key_id, shop_id)
    encoded = (p.encode("utf-8", "surrogatepass") for p in parts)
    return HKDF_INFO_PREFIX + b"".join(len(b).to_bytes(4, "big") + b for b in encoded)


class PseudonymKeys:
    """The keys derived from one master secret under one key id, cached per shop."""

    __slots__ = ("_contact", "_identifier", "_key_id", "_master")

    def __init__(self, master: SecretStr, *, key_id: str = "k1") -> None:
        raw = master.get_secret_value().encode("utf-8", "surrogatepass")
        if len(raw) < MIN_MASTER_BYTES:
            raise MasterKeyTooShortError(
                f"the pseudonymisation master secret has {len(raw)} bytes; at least "
                f"{MIN_MASTER_BYTES} are required (`shopstream keys generate` makes one)"
            )
        if not _KEY_ID.fullmatch(key_id):
            raise KeyMaterialError(
                "key_id must be 1-32 characters of letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit; got {key_id!r}"
            )
        self._master = raw
        self._key_id = key_id
        self._identifier: Callable[[str], bytes] = lru_cache(maxsize=_CACHE_SIZE)(
            lambda shop_id: self._derive(IDENTIFIER_PURPOSE, shop_id)
        )
        self._contact: Callable[[str], bytes] = lru_cache(maxsize=_CACHE_SIZE)(
            lambda shop_id: self._derive(CONTACT_PURPOSE, shop_id)
        )

    @property
    def key_id(self) -> str:
        """Names the master secret in use; read-only, since the cached keys depend on it."""
        return self._key_id

    @staticmethod
    def generate() -> str:
        """A new random master secret: 32 bytes (256 bits), URL-safe base64 text."""
        return secrets.token_urlsafe(32)

    def identifier_key(self, shop_id: str) -> bytes:
        """The shop's key for buyer_id, anonymous_id and session_id."""
        return self._identifier(shop_id)

    def contact_key(self, shop_id: str) -> bytes:
        """The shop's key for phone numbers and e-mail addresses (never the identifier key)."""
        return self._contact(shop_id)

    def _derive(self, purpose: str, shop_id: str) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=HKDF_KEY_BYTES,
            salt=HKDF_SALT,
            info=hkdf_info(purpose, self.key_id, shop_id),
        )
        return hkdf.derive(self._master)

    def __repr__(self) -> str:
        return f"PseudonymKeys(master=SecretStr('**********'), key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the secret into wherever the pickle goes (a task queue, a log).
        raise TypeError("PseudonymKeys cannot be pickled: it holds the master secret")


class Pseudonymiser:
    """Keyed pseudonyms (lower-case hex HMAC-SHA-256) for identifiers and contact data.

    Runs once or more per event, so the keyed HMAC state of each shop is cached and
    copied per value rather than re-keyed, and the pseudonyms of recently seen values are
    remembered: a buyer's, session's and visitor's ids recur in event after event (a
    lookup is a tenth of an HMAC, and of a phone number's parsing far less). The memory
    lives only in this object, is never written anywhere, and is emptied when it holds
    ``_RECENT_SIZE`` values of a kind.
    """

    __slots__ = ("_contact_mac", "_contacts", "_identifier_mac", "_identifiers", "_keys")

    def __init__(self, keys: PseudonymKeys) -> None:
        self._keys = keys
        self._identifier_mac: Callable[[str], hmac.HMAC] = lru_cache(maxsize=_CACHE_SIZE)(
            lambda shop_id: hmac.new(keys.identifier_key(shop_id), digestmod=sha256)
        )
        self._contact_mac: Callable[[str], hmac.HMAC] = lru_cache(maxsize=_CACHE_SIZE)(
            lambda shop_id: hmac.new(keys.contact_key(shop_id), digestmod=sha256)
        )
        self._identifiers: dict[tuple[str, str], str] = {}
        self._contacts: dict[tuple[str, str, str], str | None] = {}

    @property
    def key_id(self) -> str:
        """Recorded beside every pseudonym, so that rotated keys can be told apart."""
        return self._keys.key_id

    def identifier(self, shop_id: str, value: str) -> str:
        """The pseudonym of a buyer_id, anonymous_id or session_id: 64 hex characters."""
        key = (shop_id, value)
        known = self._identifiers.get(key)
        if known is None:
            known = _hexdigest(self._identifier_mac(shop_id), value)
            if len(self._identifiers) >= _RECENT_SIZE:
                self._identifiers.clear()
            self._identifiers[key] = known
        return known

    def email(self, shop_id: str, email: str) -> str | None:
        """The pseudonym of an e-mail address (trimmed, lower-cased); None if it is not one."""
        return self._contact("email", shop_id, email, self._email)

    def phone(self, shop_id: str, phone: str) -> str | None:
        """The pseudonym of a phone number in E.164 form; None if it is not a valid number.

        Numbers without ``+`` are read as Korean, so ``010-1234-5678``,
        ``+82 10 1234 5678`` and ``01012345678`` share one pseudonym.
        """
        return self._contact("phone", shop_id, phone, self._phone)

    def _contact(
        self, kind: str, shop_id: str, value: str, pseudonym: Callable[[str, str], str | None]
    ) -> str | None:
        key = (kind, shop_id, value)
        try:
            return self._contacts[key]
        except KeyError:
            pass
        known = pseudonym(shop_id, value)
        if len(self._contacts) >= _RECENT_SIZE:
            self._contacts.clear()
        self._contacts[key] = known
        return known

    def _email(self, shop_id: str, email: str) -> str | None:
        normalised = email.strip().lower()
        if not _EMAIL.fullmatch(normalised):
            return None
        return _hexdigest(self._contact_mac(shop_id), normalised)

    def _phone(self, shop_id: str, phone: str) -> str | None:
        try:
            number = phonenumbers.parse(phone, PHONE_REGION)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return _hexdigest(self._contact_mac(shop_id), e164)

    def __repr__(self) -> str:
        return f"Pseudonymiser(key_id={self.key_id!r})"


def _hexdigest(keyed: hmac.HMAC, value: str) -> str:
    mac = keyed.copy()
    mac.update(value.encode("utf-8", "surrogatepass"))
    return mac.hexdigest()


__all__ = [
    "CONTACT_PURPOSE",
    "HKDF_INFO_PREFIX",
    "HKDF_KEY_BYTES",
    "HKDF_SALT",
    "IDENTIFIER_PURPOSE",
    "MIN_MASTER_BYTES",
    "PHONE_REGION",
    "PseudonymKeys",
    "Pseudonymiser",
    "hkdf_info",
]
