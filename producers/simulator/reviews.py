"""Review texts: ordinary praise and complaints, and some that carry personal data.

About one review in seven contains a phone number, an e-mail address, a resident
registration number, a card number, or a phone number glued to Hangul with no space
("연락처01001234567로"), which is what the scrubber in stage 1 must find.
"""

from __future__ import annotations

import random
from typing import Literal

from shopstream.producers.simulator import people
from shopstream.producers.simulator.buyers import Profile

PiiKind = Literal["phone", "email", "rrn", "card", "glued_phone"]
PII_KINDS: tuple[PiiKind, ...] = ("phone", "email", "rrn", "card", "glued_phone")
PII_SHARE = 0.15

_RATING_WEIGHTS = (3, 5, 12, 30, 50)  # 1..5 stars, as shops see them
_RATING_WEIGHTS_UNHAPPY = (35, 30, 20, 10, 5)

_GOOD = (
    "배송이 빨라요! 아주 만족합니다.",
    "사진이랑 똑같아요. 재구매 의사 있어요.",
    "가격 대비 품질이 좋네요.",
    "선물용으로 샀는데 받는 분이 좋아하셨어요.",
    "포장이 꼼꼼해서 좋았습니다.",
    "생각보다 훨씬 좋아요 ㅎㅎ",
)
_SOSO = (
    "보통이에요. 가격 생각하면 괜찮아요.",
    "배송은 느렸지만 물건은 괜찮습니다.",
    "무난해요.",
)
_BAD = (
    "생각했던 것과 달라요.",
    "배송이 너무 늦었어요.",
    "포장이 엉망이었어요. 실망입니다.",
    "설명이랑 달라서 환불 요청했어요.",
)
_BY_FAMILY = {
    "fashion": ("핏이 예뻐요.", "사이즈가 조금 작게 나왔어요.", "색감이 화면이랑 같아요."),
    "food": ("신선하고 맛있어요.", "양이 많아서 나눠 먹었어요.", "간이 딱 맞아요."),
    "beauty": ("촉촉하고 자극 없어요.", "향이 은은해요.", "발색이 예뻐요."),
    "electronics": ("소음이 적어요.", "설정이 쉬워요.", "배터리가 오래가요."),
    "living": ("튼튼해요.", "세척이 편해요.", "부피가 생각보다 커요."),
    "travel": ("일정이 알차서 좋았어요.", "숙소가 깨끗했어요.", "가이드님이 친절했어요."),
    "ticket": ("좌석 시야가 좋았어요.", "입장이 빨랐어요.", "공연 최고였어요!"),
    "voucher": ("사용이 간편해요.", "매장에서 바로 사용했어요.", "유효기간이 넉넉해요."),
    "digital": ("바로 이용할 수 있어서 좋아요.", "음질이 좋아요.", "재밌게 읽었어요."),
}


def rating(rng: random.Random, *, unhappy: bool = False) -> int:
    weights = _RATING_WEIGHTS_UNHAPPY if unhappy else _RATING_WEIGHTS
    return rng.choices((1, 2, 3, 4, 5), weights=weights)[0]


def review_text(rng: random.Random, stars: int, family: str, profile: Profile | None) -> str | None:
    """A review of ``stars``; sometimes empty, sometimes with personal data in it."""
    if rng.random() < 0.08:
        return None
    pool = _GOOD if stars >= 4 else _SOSO if stars == 3 else _BAD
    parts = [rng.choice(pool)]
    if rng.random() < 0.6:
        parts.append(rng.choice(_BY_FAMILY.get(family, _SOSO)))
    if rng.random() < PII_SHARE:
        parts.append(pii_sentence(rng, rng.choice(PII_KINDS), profile))
    return " ".join(parts)


def pii_sentence(rng: random.Random, kind: PiiKind, profile: Profile | None) -> str:
    """A sentence with personal data of ``kind``, the reviewer's own where known."""
    digits = profile.phone_digits if profile else people.mobile_digits(rng)
    if kind == "phone":
        phone = f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"
        return rng.choice(
            (f"문의는 {phone} 로 주세요.", f"교환 원하시면 {phone}으로 연락 부탁드려요.")
        )
    if kind == "glued_phone":
        return rng.choice((f"연락처{digits}로 연락주세요.", f"제 번호는{digits}입니다."))
    if kind == "email":
        email = (profile.email if profile else None) or f"buyer{rng.randrange(1000)}@daum.example"
        return rng.choice((f"사진은 {email} 로 보내드릴게요.", f"메일주소: {email}"))
    if kind == "rrn":
        rrn = people.rrn_like(rng, profile.birth_date if profile else None)
        return rng.choice((f"본인확인용 주민번호 {rrn} 입니다.", f"주민등록번호는{rrn}이에요."))
    card = people.card_like(rng)
    return rng.choice((f"결제한 카드 {card} 확인 부탁드립니다.", f"카드번호:{card}"))


__all__ = ["PII_KINDS", "PiiKind", "pii_sentence", "rating", "review_text"]
