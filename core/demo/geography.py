"""The demo utility's city: Huangshi, Hubei, a prefecture-level city in central China."""

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    """A district or county of the demo city.

    Attributes:
        name: the name used in the data (``customers.region``, ``weather.region``).
        name_en: the name in English.
        short: the short form used in transformer-area names.
        lat: latitude of the district seat.
        lon: longitude of the district seat.
        radius_km: how far customers spread around the seat.
        customer_share: share of the city's customers living here.
        temperature_offset_c: mean difference from the city's temperature.
    """

    name: str
    name_en: str
    short: str
    lat: float
    lon: float
    radius_km: float
    customer_share: float
    temperature_offset_c: float


DISTRICTS: tuple[District, ...] = (
    District("黄石港区", "Huangshigang", "黄石港", 30.2230, 115.0660, 3.0, 0.20, 0.4),
    District("西塞山区", "Xisaishan", "西塞山", 30.2050, 115.1100, 4.0, 0.14, 0.3),
    District("下陆区", "Xialu", "下陆", 30.1740, 114.9610, 4.0, 0.12, 0.2),
    District("铁山区", "Tieshan", "铁山", 30.2060, 114.9010, 3.5, 0.06, 0.0),
    District("大冶市", "Daye", "大冶", 30.0960, 114.9800, 12.0, 0.28, -0.2),
    District("阳新县", "Yangxin", "阳新", 29.8300, 115.2150, 15.0, 0.20, 0.1),
)


def district_names() -> list[str]:
    """The district names as they appear in the data, in a fixed order."""
    return [district.name for district in DISTRICTS]
