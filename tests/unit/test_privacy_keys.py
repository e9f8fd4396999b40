"""PseudonymKeys and Pseudonymiser: derivation, separation by shop / key id / purpose, and
a known-answer test that recomputes the pseudonyms from the documented parameters."""

from __future__ import annotations

import hmac
import pickle
import re
import secrets
from hashlib import sha256

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from shopstream.processors.privacy import (
    KeyMaterialError,
    MasterKeyTooShortError,
    PrivacyError,
    Pseudonymiser,
    PseudonymKeys,
)
from shopstream.processors.privacy import keys as keys_module

HEX64 = re.compile(r"[0-9a-f]{64}")


def new_master() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(32))


def independent_key(master: SecretStr, purpose: str, key_id: str, shop_id: str) -> bytes:
    """The key as the module docstring describes it, built here without the module's code."""
    info = keys_module.HKDF_INFO_PREFIX
    for part in (purpose, key_id, shop_id):
        raw = part.encode()
        info += len(raw).to_bytes(4, "big") + raw
    return HKDF(
        algorithm=hashes.SHA256(),
        length=keys_module.HKDF_KEY_BYTES,
        salt=keys_module.HKDF_SALT,
        info=info,
    ).derive(master.get_secret_value().encode())


@pytest.fixture
def master() -> SecretStr:
    return new_master()


@pytest.fixture
def pseudonymiser(master: SecretStr) -> Pseudonymiser:
    return Pseudonymiser(PseudonymKeys(master))


# --- derivation -------------------------------------------------------------------------


def test_derivation_is_deterministic(master: SecretStr) -> None:
    one, two = PseudonymKeys(master), PseudonymKeys(SecretStr(master.get_secret_value()))
    assert one.identifier_key("shop-a") == two.identifier_key("shop-a")
    assert one.contact_key("shop-a") == two.contact_key("shop-a")
    assert len(one.identifier_key("shop-a")) == 32


def test_keys_differ_per_shop_key_id_purpose_and_master(master: SecretStr) -> None:
    k1, k2 = PseudonymKeys(master), PseudonymKeys(master, key_id="k2")
    other = PseudonymKeys(new_master())
    derived = {
        k1.identifier_key("shop-a"),
        k1.identifier_key("shop-b"),
        k1.contact_key("shop-a"),
        k1.contact_key("shop-b"),
        k2.identifier_key("shop-a"),
        k2.contact_key("shop-a"),
        other.identifier_key("shop-a"),
    }
    assert len(derived) == 7


def test_shop_ids_cannot_be_shifted_into_the_key_id(master: SecretStr) -> None:
    # Plain concatenation would make ("k1", "2shop") and ("k12", "shop") the same info.
    assert PseudonymKeys(master, key_id="k1").identifier_key("2shop") != PseudonymKeys(
        master, key_id="k12"
    ).identifier_key("shop")


def test_known_answer_from_documented_parameters(master: SecretStr) -> None:
    shop = "shop-kat"
    p = Pseudonymiser(PseudonymKeys(master, key_id="k7"))
    id_key = independent_key(master, keys_module.IDENTIFIER_PURPOSE, "k7", shop)
    contact_key = independent_key(master, keys_module.CONTACT_PURPOSE, "k7", shop)

    assert p.identifier(shop, "member-00042") == (
        hmac.new(id_key, b"member-00042", sha256).hexdigest()
    )
    assert p.email(shop, "  Minjun.Kim92@Naver.Example ") == (
        hmac.new(contact_key, b"minjun.kim92@naver.example", sha256).hexdigest()
    )
    assert p.phone(shop, "010-0123-4567") == (
        hmac.new(contact_key, b"+821001234567", sha256).hexdigest()
    )


def test_derived_keys_are_cached(master: SecretStr) -> None:
    keys = PseudonymKeys(master)
    assert keys.identifier_key("s") is keys.identifier_key("s")


# --- the master secret and key id ---------------------------------------------------------


def test_short_master_secret_is_rejected() -> None:
    with pytest.raises(MasterKeyTooShortError, match="at least 16"):
        PseudonymKeys(SecretStr("x" * 15))
    PseudonymKeys(SecretStr("x" * 16))  # the boundary is accepted


def test_short_secret_error_is_a_value_error_and_a_privacy_error() -> None:
    assert issubclass(MasterKeyTooShortError, ValueError)
    assert issubclass(MasterKeyTooShortError, PrivacyError)


def test_length_is_counted_in_bytes() -> None:
    PseudonymKeys(SecretStr("비밀번호열자리이상"))  # 9 syllables, 27 bytes in UTF-8


@pytest.mark.parametrize("key_id", ["", " k1", "k1/shop", "x" * 33])
def test_unusable_key_id_is_rejected(master: SecretStr, key_id: str) -> None:
    with pytest.raises(KeyMaterialError):
        PseudonymKeys(master, key_id=key_id)


def test_repr_never_shows_the_secret(master: SecretStr) -> None:
    keys = PseudonymKeys(master, key_id="k3")
    secret = master.get_secret_value()
    assert secret not in repr(keys)
    assert secret not in str(keys)
    assert "k3" in repr(keys)
    assert secret not in repr(Pseudonymiser(keys))


def test_keys_cannot_be_pickled(master: SecretStr) -> None:
    with pytest.raises(TypeError, match="master secret"):
        pickle.dumps(PseudonymKeys(master))


def test_key_id_is_read_only(master: SecretStr) -> None:
    keys = PseudonymKeys(master, key_id="k1")
    with pytest.raises(AttributeError):
        keys.key_id = "k2"  # type: ignore[misc]
    assert Pseudonymiser(keys).key_id == "k1"


def test_generate_makes_distinct_usable_secrets() -> None:
    one, two = PseudonymKeys.generate(), PseudonymKeys.generate()
    assert one != two
    assert len(one) >= 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", one)
    PseudonymKeys(SecretStr(one))


# --- pseudonyms ---------------------------------------------------------------------------


def test_identifier_is_64_lowercase_hex_and_stable(pseudonymiser: Pseudonymiser) -> None:
    value = pseudonymiser.identifier("shop-a", "member-00001")
    assert HEX64.fullmatch(value)
    assert pseudonymiser.identifier("shop-a", "member-00001") == value
    assert pseudonymiser.identifier("shop-a", "member-00002") != value


def test_remembered_pseudonyms_equal_computed_ones(
    master: SecretStr, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A memory of 3 values per kind empties itself many times over these calls.
    monkeypatch.setattr(keys_module, "_RECENT_SIZE", 3)
    remembering = Pseudonymiser(PseudonymKeys(master))
    identifier_key = PseudonymKeys(master).identifier_key
    contact_key = PseudonymKeys(master).contact_key
    for round_ in range(3):
        for shop in ("shop-a", "shop-b"):
            for n in range(5):
                value = f"member-{n}"
                expected = hmac.new(identifier_key(shop), value.encode(), sha256).hexdigest()
                assert remembering.identifier(shop, value) == expected, (round_, shop, n)
                phone = f"010-0123-456{n}"
                e164 = f"+821001234{56 * 10 + n}"
                expected = hmac.new(contact_key(shop), e164.encode(), sha256).hexdigest()
                assert remembering.phone(shop, phone) == expected, (round_, shop, n)
                email = hmac.new(contact_key(shop), f"b{n}@shop.example".encode(), sha256)
                assert remembering.email(shop, f"B{n}@Shop.example") == email.hexdigest()
                assert remembering.phone(shop, "not a phone") is None
    assert len(remembering._identifiers) <= 3
    assert len(remembering._contacts) <= 3


def test_same_buyer_in_two_shops_gets_two_pseudonyms(pseudonymiser: Pseudonymiser) -> None:
    assert pseudonymiser.identifier("shop-a", "m1") != pseudonymiser.identifier("shop-b", "m1")


def test_rotating_the_key_id_changes_every_pseudonym(master: SecretStr) -> None:
    old = Pseudonymiser(PseudonymKeys(master, key_id="k1"))
    new = Pseudonymiser(PseudonymKeys(master, key_id="k2"))
    assert old.identifier("s", "m1") != new.identifier("s", "m1")
    assert old.phone("s", "010-0123-4567") != new.phone("s", "010-0123-4567")
    assert (old.key_id, new.key_id) == ("k1", "k2")


def test_identifier_and_contact_keys_are_separate(pseudonymiser: Pseudonymiser) -> None:
    # A buyer id that happens to equal an e-mail address gets a different pseudonym.
    assert pseudonymiser.identifier("s", "a@b.example") != pseudonymiser.email("s", "a@b.example")


@pytest.mark.parametrize(
    "phone",
    ["010-0123-4567", "01001234567", "+82 10-0123-4567", "+82 10 0123 4567", "82-10-0123-4567"],
)
def test_phone_forms_share_one_pseudonym(pseudonymiser: Pseudonymiser, phone: str) -> None:
    assert pseudonymiser.phone("s", phone) == pseudonymiser.phone("s", "+821001234567")


def test_old_mobile_prefixes_and_landlines_are_valid(pseudonymiser: Pseudonymiser) -> None:
    for phone in ("011-012-3456", "016-0123-4567", "02-123-4567", "031-123-4567"):
        assert pseudonymiser.phone("s", phone) is not None, phone


@pytest.mark.parametrize("phone", ["", "전화번호", "010-123-456", "12", "+82", "0" * 300])
def test_invalid_phone_is_none(pseudonymiser: Pseudonymiser, phone: str) -> None:
    assert pseudonymiser.phone("s", phone) is None


def test_email_is_trimmed_and_lower_cased(pseudonymiser: Pseudonymiser) -> None:
    assert pseudonymiser.email("s", " Seoyeon.Lee@Daum.Example\n") == pseudonymiser.email(
        "s", "seoyeon.lee@daum.example"
    )


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b", "@daum.example", "a b@daum.example", "a@@daum.example"]
)
def test_not_an_email_is_none(pseudonymiser: Pseudonymiser, email: str) -> None:
    assert pseudonymiser.email("s", email) is None


def test_more_shops_than_the_cache_holds(
    master: SecretStr, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys_module, "_CACHE_SIZE", 4)
    small = Pseudonymiser(PseudonymKeys(master))
    first = small.identifier("shop-0", "m")
    for i in range(20):  # evicts shop-0's key and keyed state
        small.identifier(f"shop-{i}", "m")
    assert (
        small.identifier("shop-0", "m")
        == first
        == Pseudonymiser(PseudonymKeys(master)).identifier("shop-0", "m")
    )
