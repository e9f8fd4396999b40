"""scrub: phone, e-mail, RRN/FRN, card and account numbers in Korean free text, numbers glued
to Hangul included; ordinary text unchanged. All numbers here are synthetic."""

from __future__ import annotations

import datetime as dt
import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.kr import rrn

from shopstream.processors.privacy import TOKENS, Scrubbed, scrub
from shopstream.producers.simulator import reviews

DIGIT_RUN_9 = re.compile(r"[0-9]{9,}")


def rrn_with_checksum(front: str, serial6: str, *, valid: bool) -> str:
    """``front`` is YYMMDD-G; the check digit is computed, or deliberately wrong."""
    body = front.replace("-", "") + serial6[:5]
    check = int(rrn.calc_check_digit(body))
    digit = check if valid else (check + 1) % 10
    return f"{front}{serial6[:5]}{digit}"


def luhn_complete(prefix_and_body: str) -> str:
    return prefix_and_body + luhn.calc_check_digit(prefix_and_body)


def luhn_broken(prefix_and_body: str) -> str:
    return prefix_and_body + str((int(luhn.calc_check_digit(prefix_and_body)) + 1) % 10)


VISA = luhn_complete("411111111111111")  # 4111 1111 1111 1111
MASTERCARD = luhn_complete("555555555555444")
AMEX = luhn_complete("37828224631000")  # 15 digits
BC_DOMESTIC = luhn_complete("941012345678901")
NOT_LUHN = luhn_broken("411111111111111")


def assert_scrubbed(text: str, expected: str, **found: int) -> None:
    result = scrub(text)
    assert result.text == expected, text
    assert dict(result.found) == found, text


def assert_unchanged(text: str) -> None:
    result = scrub(text)
    assert result.text == text
    assert dict(result.found) == {}
    assert not result.changed


# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678",
        "010 1234 5678",
        "010.1234.5678",
        "01012345678",
        "010 - 1234 - 5678",
        "011-123-4567",
        "016-1234-5678",
        "017-123-4567",
        "018-1234-5678",
        "019-123-4567",
        "0111234567",
        "+82 10-1234-5678",
        "+82 10 1234 5678",
        "+821012345678",
        "82-10-1234-5678",
        "+82-010-1234-5678",
        "+82 (0)10 1234 5678",
        "0082 10 1234 5678",
        "02-123-4567",
        "02-1234-5678",
        "0212345678",
        "031-123-4567",
        "051-987-6543",
        "064-712-3456",
        "070-1234-5678",
        "0505-123-4567",
        "+82 2 1234 5678",
        "０１０－１２３４－５６７８",  # full-width, as some keyboards type it
        "010\u200b1234\u200b5678",  # zero-width spaces between the blocks
    ],
)
def test_phone_forms(phone: str) -> None:
    assert_scrubbed(f"문의는 {phone} 로 주세요", "문의는 [PHONE] 로 주세요", PHONE=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("전화010-1234-5678입니다", "전화[PHONE]입니다"),
        ("010-1234-5678입니다", "[PHONE]입니다"),
        ("연락처01001234567로 연락주세요.", "연락처[PHONE]로 연락주세요."),
        ("제 번호는+821012345678이에요", "제 번호는[PHONE]이에요"),
        ("매장(02)123-4567로", "매장[PHONE]로"),
        ("Tel.031-123-4567", "Tel.[PHONE]"),
        ("(010-1234-5678)", "([PHONE])"),
    ],
)
def test_phone_glued_to_hangul_and_punctuation(text: str, expected: str) -> None:
    assert_scrubbed(text, expected, PHONE=1)


@pytest.mark.parametrize(
    "text",
    [
        "010-123-456 은 자리수가 모자라요",
        "1588-1234 고객센터",  # business numbers are not personal data
        "080-123-4567 수신거부",
        "02-0123-4567",  # no Seoul number starts its middle block with 0
        "099-123-4567",  # no such area code
        "0101234567890123",  # 16 digits: not a phone
        "10-1234-5678",
    ],
)
def test_not_phones(text: str) -> None:
    assert_unchanged(text)


def test_two_phones_and_an_email_in_one_review() -> None:
    assert_scrubbed(
        "배송 빨라요! 010-1111-2222 또는 02-333-4444, 메일 buyer1@daum.example 주세요",
        "배송 빨라요! [PHONE] 또는 [PHONE], 메일 [EMAIL] 주세요",
        PHONE=2,
        EMAIL=1,
    )


# --- e-mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("연락은abc@example.com으로", "연락은[EMAIL]으로"),
        ("메일주소: minjun.kim92@naver.example", "메일주소: [EMAIL]"),
        ("사진은 seo+review@mail.co.kr로 보내드릴게요", "사진은 [EMAIL]로 보내드릴게요"),
        ("Kim_Lee-1@Sub.Example.COM입니다.", "[EMAIL]입니다."),
        ("메일 abc＠example.com 로", "메일 [EMAIL] 로"),
        ("a@b.co,c@d.co", "[EMAIL],[EMAIL]"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    result = scrub(text)
    assert result.text == expected
    assert set(result.found) == {"EMAIL"}


@pytest.mark.parametrize(
    "text", ["@홍길동 님 감사해요", "가격@39,000원", "a@b", "메일은 abc@ 입니다", "x@localhost"]
)
def test_not_emails(text: str) -> None:
    assert_unchanged(text)


# --- resident and foreigner registration numbers ------------------------------------------


@pytest.mark.parametrize("valid", [True, False], ids=["checksum-ok", "checksum-wrong"])
@pytest.mark.parametrize("dash", [True, False], ids=["dash", "no-dash"])
def test_rrn_with_and_without_checksum(valid: bool, dash: bool) -> None:
    number = rrn_with_checksum("900101-1", "234567", valid=valid)
    assert rrn.is_valid(number) is valid
    if not dash:
        number = number.replace("-", "")
    assert_scrubbed(
        f"본인확인용 주민번호 {number} 입니다.", "본인확인용 주민번호 [RRN] 입니다.", RRN=1
    )
    assert_scrubbed(f"주민등록번호는{number}이에요", "주민등록번호는[RRN]이에요", RRN=1)


@pytest.mark.parametrize(
    ("number", "token"),
    [
        ("850315-2123456", "RRN"),
        ("010203-3123456", "RRN"),  # born 2001
        ("050505-4123456", "RRN"),
        ("990101-9123456", "RRN"),  # 1800s digit, kept for completeness
        ("900101-5123456", "FRN"),
        ("900101-6123456", "FRN"),
        ("030303-7123456", "FRN"),
        ("030303-8123456", "FRN"),
        ("900101 - 1234567", "RRN"),
        ("900101 1234567", "RRN"),
        ("900101-1******", "RRN"),  # masked, still gives away birth date and sex
        ("210230-3123456", "RRN"),  # dashed: replaced even with an impossible day
    ],
)
def test_registration_number_kinds(number: str, token: str) -> None:
    assert_scrubbed(f"번호{number}입니다", f"번호[{token}]입니다", **{token: 1})


def test_post_2020_number_without_checksum_is_replaced() -> None:
    # Since October 2020 the last six digits are random: no checksum to rely on.
    for serial in ("000000", "123450", "987654"):
        for number in (f"210315-3{serial}", f"2103153{serial}"):
            assert_scrubbed(f"주민번호 {number}", "주민번호 [RRN]", RRN=1)


@pytest.mark.parametrize(
    "text",
    [
        "9013011234567 은 날짜가 아니에요",  # month 13, no dash
        "9002301234567",  # 30 February, no dash, checksum wrong
        "20240501-1234567 주문",  # eight-digit date in front: not YYMMDD
        "주문번호 240501-1234568",  # typed as an order number, checksum wrong
    ],
)
def test_not_registration_numbers(text: str) -> None:
    assert rrn.is_valid(re.sub(r"[^0-9]", "", text)[-13:]) is False
    assert_unchanged(text)


def test_an_order_number_that_is_a_valid_rrn_is_still_replaced() -> None:
    number = rrn_with_checksum("240501-3", "123456", valid=True)
    assert_scrubbed(f"주문번호 {number}", "주문번호 [RRN]", RRN=1)


def test_thirteen_digit_rrn_is_not_read_as_a_phone() -> None:
    assert_scrubbed("번호 0101013123456 요", "번호 [RRN] 요", RRN=1)


# --- cards --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        VISA,
        "-".join(VISA[i : i + 4] for i in range(0, 16, 4)),
        " ".join(VISA[i : i + 4] for i in range(0, 16, 4)),
        " ".join(MASTERCARD[i : i + 4] for i in range(0, 16, 4)),
        f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}",
        BC_DOMESTIC,
        luhn_complete("622126123456789012"),  # UnionPay, 19 digits
        luhn_complete("222100000000000"),  # Mastercard 2-series
    ],
)
def test_luhn_valid_cards(card: str) -> None:
    assert_scrubbed(
        f"결제한 카드 {card} 확인 부탁드립니다.", "결제한 카드 [CARD] 확인 부탁드립니다.", CARD=1
    )
    assert_scrubbed(f"카드번호:{card}이요", "카드번호:[CARD]이요", CARD=1)


@pytest.mark.parametrize(
    "number",
    [
        NOT_LUHN,
        "-".join(NOT_LUHN[i : i + 4] for i in range(0, 16, 4)),
        luhn_complete("111122223333444"),  # Luhn-valid, but no card network starts with 1
        luhn_complete("202405011234567"),  # 2024...: below Mastercard's 2221
        luhn_complete("41111111111"),  # 12 digits: too short
        luhn_complete("4111111111111111111"),  # 20 digits: too long
    ],
)
def test_not_cards(number: str) -> None:
    assert_unchanged(f"번호 {number} 입니다")


def test_card_next_to_a_phone_is_cut_at_its_own_groups() -> None:
    card = " ".join(VISA[i : i + 4] for i in range(0, 16, 4))
    assert_scrubbed(f"{card} 010 1234 5678", "[CARD] [PHONE]", CARD=1, PHONE=1)
    assert_scrubbed(f"010 1234 5678 {card}", "[PHONE] [CARD]", CARD=1, PHONE=1)


# --- bank accounts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("국민은행 123456-01-234567 로 환불해주세요", "국민은행 [ACCOUNT] 로 환불해주세요"),
        ("신한 110-123-456789", "신한 [ACCOUNT]"),
        ("카카오뱅크3333-01-1234567로 입금", "카카오뱅크[ACCOUNT]로 입금"),
        ("환불계좌: 1002-123-456789 (우리)", "환불계좌: [ACCOUNT] (우리)"),
        ("1002-123-456789 우리은행으로 보내주세요", "[ACCOUNT] 우리은행으로 보내주세요"),
        ("입금은 농협 3021234567891로", "입금은 농협 [ACCOUNT]로"),
        ("refund to account 123-456-789012 please", "refund to account [ACCOUNT] please"),
        ("KB 123456-78-901234", "KB [ACCOUNT]"),
        ("계좌 110-123-456789, 1002-123-456789 둘 다", "계좌 [ACCOUNT], [ACCOUNT] 둘 다"),
    ],
)
def test_accounts_near_a_bank_word(text: str, expected: str) -> None:
    result = scrub(text)
    assert result.text == expected
    assert set(result.found) == {"ACCOUNT"}


@pytest.mark.parametrize(
    "text",
    [
        "110-123-456789",  # no bank word anywhere
        "택배 송장 6012-3456-7890 확인했어요",
        "입금 확인 부탁드려요. 금액은 1234567890원",  # an amount, not an account
        "입금했어요 2024-05-01",  # a date: too few digits
        "국민 여러분 " + "가" * 30 + " 110-123-456789",  # the bank word is too far away
        "입금 완료, 주문번호 2024-0501-123456",  # labelled as an order number
        "우리 아이가 좋아해요 2024-05-01 도착",
    ],
)
def test_not_accounts(text: str) -> None:
    assert_unchanged(text)


def test_a_phone_near_a_bank_word_is_a_phone() -> None:
    assert_scrubbed(
        "입금하시고 010-1234-5678로 문자주세요", "입금하시고 [PHONE]로 문자주세요", PHONE=1
    )


# --- text without personal data -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "배송이 빨라요! 아주 만족합니다.",
        "39,000원에 샀는데 가성비 최고예요",
        "정가 1,234,500원 → 할인가 987,000원",
        "2024-05-01 주문, 2024.05.03 도착, 24.05.04 사용",
        "2024년 5월 1일 오후 2시 30분에 받았어요 (10:30 출발)",
        "주문번호 20240501-0001234 문의드려요",
        "주문번호: 2024050112345678",
        "주문번호 31000123456789 확인 부탁",
        "주문번호는 " + luhn_complete("510510510510510"),  # Luhn-valid, but typed as one
        "모델명 SM-G991N, QN65QN90BAFXKR, RTX 4090 모두 좋아요",
        "갤럭시 S24 울트라 256GB 아이폰15 프로",
        "사이즈 250 260 270 중에 260 샀어요",
        "3박 4일 일정, 2인 1실, 4.5점",
        "운송장 123456789012 조회됨",
        "평점 5/5 ★★★★★ ㅋㅋㅋ ㅎㅎ",
        "ｆｕｌｌ－ｗｉｄｔｈ　텍스트와 ＡＢＣ",
        "1588-1234 고객센터 친절해요",
    ],
)
def test_text_without_personal_data_is_unchanged(text: str) -> None:
    assert_unchanged(text)


# --- the result type ----------------------------------------------------------------------


def test_scrubbed_is_a_read_only_pair() -> None:
    result = scrub("010-1234-5678, 010-2222-3333")
    text, found = result
    assert isinstance(result, Scrubbed)
    assert (text, dict(found)) == ("[PHONE], [PHONE]", {"PHONE": 2})
    assert result.changed
    with pytest.raises(TypeError):
        found["PHONE"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.text = ""  # type: ignore[misc]


def test_tokens_name_each_kind() -> None:
    assert dict(TOKENS) == {
        "PHONE": "[PHONE]",
        "EMAIL": "[EMAIL]",
        "RRN": "[RRN]",
        "FRN": "[FRN]",
        "CARD": "[CARD]",
        "ACCOUNT": "[ACCOUNT]",
    }


# --- properties ---------------------------------------------------------------------------

FILLER = st.text(
    st.one_of(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul syllables
        st.sampled_from(list(" .,!?~()ㅋㅎabcXYZ")),
    ),
    max_size=40,
)


def digits(draw: st.DrawFn, width: int) -> str:
    return f"{draw(st.integers(0, 10**width - 1)):0{width}d}"


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    prefix = draw(st.sampled_from(["010", "011", "016", "017", "018", "019"]))
    width = 4 if prefix == "010" else draw(st.sampled_from([3, 4]))
    middle = digits(draw, width)
    last = digits(draw, 4)
    template = draw(
        st.sampled_from(
            [
                "{p}-{m}-{l}",
                "{p}{m}{l}",
                "{p} {m} {l}",
                "{p}.{m}.{l}",
                "+82 {q}-{m}-{l}",
                "+82{q}{m}{l}",
            ]
        )
    )
    return template.format(p=prefix, q=prefix[1:], m=middle, l=last), "PHONE"


@st.composite
def registration_numbers(draw: st.DrawFn) -> tuple[str, str]:
    born = draw(st.dates(dt.date(1900, 1, 1), dt.date(2029, 12, 31)))
    g = draw(st.sampled_from("1256" if born.year < 2000 else "3478"))
    serial = digits(draw, 6)
    sep = draw(st.sampled_from(["-", ""]))
    return f"{born:%y%m%d}{sep}{g}{serial}", "FRN" if g in "5678" else "RRN"


@st.composite
def cards(draw: st.DrawFn) -> tuple[str, str]:
    head = draw(st.sampled_from(["4", "51", "52", "53", "54", "55", "9410", "6212"]))
    number = luhn_complete(head + digits(draw, 15 - len(head)))
    sep = draw(st.sampled_from(["", "-", " "]))
    return sep.join(number[i : i + 4] for i in range(0, 16, 4)), "CARD"


@given(FILLER, st.one_of(phones(), registration_numbers(), cards()), FILLER)
def test_planted_numbers_never_survive(before: str, planted: tuple[str, str], after: str) -> None:
    number, kind = planted
    result = scrub(before + number + after)
    assert not DIGIT_RUN_9.search(result.text)
    assert not any(c.isdigit() for c in result.text)  # the filler has no digits at all
    assert result.found.get(kind) == 1
    assert result.text == before + TOKENS[kind] + after  # nothing else touched


@given(st.lists(st.one_of(phones(), registration_numbers(), cards()), min_size=2, max_size=3))
def test_several_numbers_in_one_text(planted: list[tuple[str, str]]) -> None:
    text = " 그리고 ".join(number for number, _ in planted)
    result = scrub(text)
    assert result.text == " 그리고 ".join(TOKENS[kind] for _, kind in planted)


TEXTISH = st.text(
    st.one_of(
        st.sampled_from(list("0123456789-. +()@*원계좌입금국민주문번호 ")),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.sampled_from(list("abcxyz.com")),
    ),
    max_size=80,
)


@given(st.one_of(st.text(), TEXTISH))
def test_scrub_is_idempotent_and_never_raises(text: str) -> None:
    once = scrub(text)
    assert scrub(once.text).text == once.text
    assert sum(once.found.values()) == sum(once.text.count(t) for t in TOKENS.values()) - sum(
        text.count(t) for t in TOKENS.values()
    )


@given(
    st.text(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3) | st.sampled_from(" .,!?"),
        max_size=200,
    )
)
def test_hangul_text_is_unchanged(text: str) -> None:
    assert scrub(text) == (text, {})


@pytest.mark.parametrize(
    "text",
    ["\ud800 010-1234-5678 \udfff", "\x00" * 10, "0" * 100_000, "1 " * 20_000, "a" * 5_000 + "@"],
)
def test_odd_inputs_do_not_raise(text: str) -> None:
    scrub(text)


def test_simulated_reviews_leave_no_long_digit_runs() -> None:
    rng = random.Random(11)
    found = 0
    for kind in reviews.PII_KINDS:
        for _ in range(200):
            result = scrub(reviews.pii_sentence(rng, kind, None))
            assert not any(c.isdigit() for c in result.text), result.text
            found += sum(result.found.values())
    assert found == 200 * len(reviews.PII_KINDS)


def test_fast_on_typical_reviews() -> None:
    rng = random.Random(5)
    texts = [
        " ".join([reviews.review_text(rng, rng.randint(1, 5), "fashion", None) or ""] * 3)
        for _ in range(1_000)
    ]
    started = time.perf_counter()
    for text in texts:
        scrub(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0  # about 0.05 s on a laptop core; the bound only catches blow-ups
