"""Shop catalogues: products across tangible and intangible categories, with typed attributes.

Brands, artists and product names are invented; venues and destinations are real places.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import NamedTuple

from shopstream.schemas.models import (
    IntangibleAttributes,
    IntangibleKind,
    ProductType,
    TangibleAttributes,
)


class Category(NamedTuple):
    category_id: str
    path: tuple[str, str, str]
    family: str
    """fashion, food, beauty, electronics, living | travel, ticket, voucher, digital."""
    names: tuple[str, ...]
    brands: tuple[str, ...]
    price: tuple[int, int]
    """List price range in KRW."""


CATEGORIES: tuple[Category, ...] = (
    Category("C-FASHION-KNIT", ("패션", "여성의류", "니트"), "fashion", ("오버핏 니트 스웨터", "케이블 가디건", "라운드 울 니트"), ("하늘섬유", "온담"), (19_000, 89_000)),
    Category("C-FASHION-TEE", ("패션", "남성의류", "티셔츠"), "fashion", ("코튼 반팔 티셔츠", "헤비 오버핏 티", "기모 맨투맨"), ("바른옷", "하늘섬유"), (9_900, 39_000)),
    Category("C-FASHION-SHOES", ("패션", "신발", "운동화"), "fashion", ("쿠션 러닝화", "캔버스 스니커즈", "경량 워킹화"), ("달리미", "새걸음"), (39_000, 159_000)),
    Category("C-FOOD-FRUIT", ("식품", "신선식품", "과일"), "food", ("제주 감귤 5kg", "청송 사과 5kg", "성주 참외 3kg", "나주 배 7.5kg"), ("농부의아침", "산지직송"), (15_900, 59_000)),
    Category("C-FOOD-KIMCHI", ("식품", "가공식품", "김치"), "food", ("포기김치 3kg", "총각김치 2kg", "갓김치 1kg"), ("어머니손맛", "한결식품"), (12_900, 45_000)),
    Category("C-FOOD-GINSENG", ("식품", "건강식품", "홍삼"), "food", ("6년근 홍삼정 240g", "홍삼 스틱 30포"), ("정관원", "한삼"), (39_000, 189_000)),
    Category("C-BEAUTY-SKIN", ("뷰티", "스킨케어", "에센스"), "beauty", ("히알루론 수분 에센스", "어성초 진정 토너", "비타민 앰플"), ("새봄뷰티", "맑은결"), (12_000, 58_000)),
    Category("C-BEAUTY-LIP", ("뷰티", "메이크업", "립"), "beauty", ("벨벳 틴트", "글로우 립밤", "매트 립스틱"), ("새봄뷰티", "로로"), (8_900, 29_000)),
    Category("C-ELEC-AUDIO", ("가전디지털", "음향기기", "이어폰"), "electronics", ("무선 블루투스 이어폰", "노이즈캔슬링 헤드폰"), ("바른전자", "소리담"), (29_000, 349_000)),
    Category("C-ELEC-KITCHEN", ("가전디지털", "주방가전", "에어프라이어"), "electronics", ("5.5L 에어프라이어", "스팀 오븐", "전기 주전자"), ("바른전자", "한울가전"), (29_000, 289_000)),
    Category("C-LIVING-KITCHEN", ("생활", "주방용품", "텀블러"), "living", ("스텐 진공 텀블러", "유리 밀폐용기 세트"), ("살림공방", "데일리홈"), (9_900, 49_000)),
    Category("C-LIVING-BEDDING", ("생활", "침구", "이불"), "living", ("사계절 차렵이불", "구스 다운 이불", "마이크로 화이바 베개"), ("포근잠", "데일리홈"), (25_000, 249_000)),
    Category("C-TRAVEL-JEJU", ("여행", "국내여행", "제주"), "travel", ("제주 2박 3일 항공+호텔", "제주 렌터카 포함 자유여행"), ("섬여행사", "바람길투어"), (159_000, 590_000)),
    Category("C-TRAVEL-JAPAN", ("여행", "해외여행", "일본"), "travel", ("오사카 3박 4일 자유여행", "후쿠오카 온천 2박 3일"), ("섬여행사", "하늘길여행"), (390_000, 1_290_000)),
    Category("C-TICKET-IDOL", ("공연티켓", "콘서트", "아이돌"), "ticket", ("별빛소년단 월드투어 서울 R석", "루미나 팬콘서트 S석", "NOVA 단독 콘서트 R석"), ("한빛티켓", "무대로"), (99_000, 198_000)),
    Category("C-TICKET-MUSICAL", ("공연티켓", "뮤지컬", "대극장"), "ticket", ("창작뮤지컬 달의 노래 VIP석", "뮤지컬 푸른 별 R석"), ("한빛티켓", "무대로"), (70_000, 170_000)),
    Category("C-VOUCHER-CAFE", ("외식이용권", "모바일상품권", "카페"), "voucher", ("아메리카노 T 모바일 교환권", "케이크 세트 모바일 교환권"), ("커피나무", "달콤베이커리"), (4_500, 35_000)),
    Category("C-VOUCHER-BUFFET", ("외식이용권", "레스토랑", "뷔페"), "voucher", ("호텔 뷔페 평일 디너 2인", "한식 뷔페 주말 이용권"), ("한상차림", "호텔누리"), (59_000, 260_000)),
    Category("C-DIGITAL-EBOOK", ("디지털콘텐츠", "전자책", "소설"), "digital", ("장편소설 전자책", "웹소설 100화 이용권"), ("책마루", "글누림"), (3_000, 18_000)),
    Category("C-DIGITAL-MUSIC", ("디지털콘텐츠", "스트리밍", "음원"), "digital", ("음원 스트리밍 30일 이용권", "무제한 다운로드 30곡"), ("소리숲", "음악상자"), (7_900, 15_900)),
)  # fmt: skip

TANGIBLE_FAMILIES = frozenset({"fashion", "food", "beauty", "electronics", "living"})
_INTANGIBLE_KIND = {
    "travel": IntangibleKind.TRAVEL,
    "ticket": IntangibleKind.TICKET,
    "voucher": IntangibleKind.SERVICE,
    "digital": IntangibleKind.DIGITAL,
}
_COLOURS = (
    "블랙",
    "화이트",
    "아이보리",
    "네이비",
    "베이지",
    "그레이",
    "차콜",
    "카키",
    "코랄",
    "로즈",
)
_STYLES = ("캐주얼", "미니멀", "오피스", "스트릿", "빈티지")
_MATERIALS = {
    "fashion": ("면 100%", "울 30%", "폴리에스터", "린넨 혼방"),
    "living": ("스테인리스", "유리", "면 100%", "극세사"),
    "electronics": ("ABS", "알루미늄"),
}
_TASTES = ("달콤한맛", "새콤달콤", "매운맛", "순한맛", "진한맛", "담백한맛")
_DESTINATIONS = {
    "C-TRAVEL-JEJU": ("제주", "서귀포"),
    "C-TRAVEL-JAPAN": ("오사카", "후쿠오카", "도쿄", "삿포로"),
}
_VENUES = {
    "C-TICKET-IDOL": ("KSPO DOME", "고척스카이돔", "잠실종합운동장 주경기장", "인스파이어 아레나"),
    "C-TICKET-MUSICAL": ("블루스퀘어", "샤롯데씨어터", "세종문화회관 대극장"),
    "C-VOUCHER-BUFFET": ("서울 중구점", "부산 해운대점", "판교점"),
}


@dataclass(frozen=True, slots=True)
class Product:
    """A catalogue entry of one shop."""

    product_id: str
    shop_id: str
    category: Category
    name: str
    brand: str
    seller_id: str
    list_price: int
    tangible: TangibleAttributes | None
    intangible: IntangibleAttributes | None

    @property
    def product_type(self) -> ProductType:
        return ProductType.INTANGIBLE if self.intangible is not None else ProductType.TANGIBLE


def krw_price(rng: random.Random, low: int, high: int) -> int:
    """A shop-like price: whole hundreds, often ending in 900 (29,900)."""
    price = rng.randrange(low, high + 1) // 1000 * 1000
    return max(low, price - 100 if rng.random() < 0.5 else price)


def catalogue(
    rng: random.Random, shop_id: str, shop_index: int, size: int, today: dt.date
) -> list[Product]:
    """``size`` products for one shop, cycling through every category in a shop-specific order."""
    order = list(CATEGORIES)
    rng.shuffle(order)
    products = []
    for n in range(size):
        category = order[n % len(order)]
        tangible, intangible = _attributes(rng, category, today)
        name = rng.choice(category.names)
        if tangible is not None and tangible.colour and category.family in {"fashion", "beauty"}:
            name = f"{name} {tangible.colour}"
        products.append(
            Product(
                product_id=f"P{shop_index:02d}-{n + 1:05d}",
                shop_id=shop_id,
                category=category,
                name=name,
                brand=rng.choice(category.brands),
                seller_id=f"S{shop_index:02d}-{rng.randrange(1, 6):03d}",
                list_price=krw_price(rng, *category.price),
                tangible=tangible,
                intangible=intangible,
            )
        )
    return products


def _attributes(
    rng: random.Random, category: Category, today: dt.date
) -> tuple[TangibleAttributes | None, IntangibleAttributes | None]:
    family = category.family
    if family in TANGIBLE_FAMILIES:
        return _tangible(rng, category), None
    kind = _INTANGIBLE_KIND[family]
    start = today + dt.timedelta(days=rng.randrange(7, 120))
    if family == "travel":
        nights = rng.randrange(2, 5)
        return None, IntangibleAttributes(
            kind=kind,
            destination=rng.choice(_DESTINATIONS[category.category_id]),
            start_date=start,
            end_date=start + dt.timedelta(days=nights),
        )
    if family == "ticket":
        return None, IntangibleAttributes(
            kind=kind,
            venue=rng.choice(_VENUES[category.category_id]),
            start_date=start,
            end_date=start,
            duration_minutes=rng.choice((120, 150, 160, 180)),
        )
    if family == "voucher":
        venue = _VENUES.get(category.category_id)
        return None, IntangibleAttributes(
            kind=kind,
            venue=rng.choice(venue) if venue else None,
            start_date=today,
            end_date=today + dt.timedelta(days=rng.choice((30, 90, 365))),
        )
    return None, IntangibleAttributes(kind=kind, duration_minutes=rng.choice((None, 43_200)))


def _tangible(rng: random.Random, category: Category) -> TangibleAttributes:
    family = category.family
    if family == "food":
        return TangibleAttributes(
            taste=rng.choice(_TASTES), weight_g=rng.choice((500, 1000, 2000, 3000, 5000))
        )
    if family == "fashion":
        sizes = (
            ("230", "240", "250", "260", "270", "280")
            if "운동화" in category.path
            else ("S", "M", "L", "XL", "FREE")
        )
        return TangibleAttributes(
            colour=rng.choice(_COLOURS),
            size=rng.choice(sizes),
            style=rng.choice(_STYLES),
            material=rng.choice(_MATERIALS["fashion"]),
        )
    if family == "beauty":
        return TangibleAttributes(
            colour=rng.choice(_COLOURS[8:]), size=rng.choice(("30ml", "50ml", "100ml"))
        )
    return TangibleAttributes(
        colour=rng.choice(_COLOURS[:4]),
        material=rng.choice(_MATERIALS[family]),
        weight_g=rng.randrange(100, 6000, 50),
    )


__all__ = ["CATEGORIES", "Category", "Product", "catalogue", "krw_price"]
