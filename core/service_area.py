"""The utility's service area, taken from the store: where each district's customers are.

The product knows no city. The area is the box the utility supplies as the
``SERVICE_AREA_BOUNDS`` setting (``lat_min,lat_max,lon_min,lon_max``, environment or
``.streamlit/secrets.toml``), or else what its customer archive says: one box per district
(``customers.region``) around the median position of that district's customers. A located
customer outside every box has a coordinate error: latitude and longitude swapped, a point of
another city, a digit typed wrong, 0/0.
"""

import math
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import config
from core.store import schema

SETTING = "SERVICE_AREA_BOUNDS"
KM_PER_DEGREE_LATITUDE = 111.0
# A district's box reaches this many times its customers' median distance from their median
# position: room for the outlying villages of a county whose customers live mostly in one town.
SPREAD_FACTOR = 3.0
# ... and at least this far (km) from it: a Chinese district or county rarely reaches further
# from its centre, while the errors to catch move a point by a hundred kilometres or more.
MIN_RADIUS_KM = 50.0


@dataclass(frozen=True)
class Bounds:
    """A latitude/longitude box, in degrees."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, lat: sa.ColumnElement, lon: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """A SQL condition: the point (``lat``, ``lon``) lies in the box."""
        return sa.and_(
            lat.between(self.lat_min, self.lat_max), lon.between(self.lon_min, self.lon_max)
        )


@dataclass(frozen=True)
class ServiceArea:
    """The area a utility serves, as boxes: one per district, or the one it supplied.

    Attributes:
        boxes: the box of each district (``region``), or ``{"": box}`` for a supplied box.
        supplied: whether the box comes from the setting rather than the customer archive.
    """

    boxes: dict[str, Bounds]
    supplied: bool = False

    def outside(self, lat: sa.ColumnElement, lon: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """A SQL condition: a located point lies in none of the boxes (false where unlocated)."""
        if not self.boxes:
            return sa.false()
        inside = sa.or_(*(box.contains(lat, lon) for box in self.boxes.values()))
        return sa.and_(lat.is_not(None), lon.is_not(None), sa.not_(inside))


def supplied_bounds(text: str) -> Bounds:
    """The box of the ``SERVICE_AREA_BOUNDS`` setting.

    Raises:
        ValueError: the text is not four numbers forming a latitude/longitude box.
    """
    try:
        lat_min, lat_max, lon_min, lon_max = (float(part) for part in text.split(","))
    except ValueError as error:
        raise ValueError(
            f"{SETTING} must be four numbers, lat_min,lat_max,lon_min,lon_max: {text!r}"
        ) from error
    if not (-90 <= lat_min < lat_max <= 90 and -180 <= lon_min < lon_max <= 180):
        raise ValueError(f"{SETTING} is not a latitude/longitude box: {text!r}")
    return Bounds(lat_min, lat_max, lon_min, lon_max)


def district_bounds(points: pd.DataFrame) -> dict[str, Bounds]:
    """One box per district around where its customers are.

    Args:
        points: one row per located customer, with ``region``, ``lat`` and ``lon``.

    Returns:
        The box of each region that has located customers.
    """
    boxes: dict[str, Bounds] = {}
    for region, group in points.groupby("region", sort=True):
        lat, lon = float(group["lat"].median()), float(group["lon"].median())
        km_per_degree_longitude = KM_PER_DEGREE_LATITUDE * max(math.cos(math.radians(lat)), 0.01)
        distance_km = (
            ((group["lat"] - lat) * KM_PER_DEGREE_LATITUDE) ** 2
            + ((group["lon"] - lon) * km_per_degree_longitude) ** 2
        ) ** 0.5
        radius_km = max(SPREAD_FACTOR * float(distance_km.median()), MIN_RADIUS_KM)
        half_lat = radius_km / KM_PER_DEGREE_LATITUDE
        half_lon = radius_km / km_per_degree_longitude
        boxes[str(region)] = Bounds(lat - half_lat, lat + half_lat, lon - half_lon, lon + half_lon)
    return boxes


def of_store(conn: sa.Connection) -> ServiceArea:
    """The service area of the store's utility: the supplied box, or its districts' boxes.

    The districts' boxes come from every located customer (not a viewer's scope): the area is
    the utility's. One row per customer is read, as the medians have no portable SQL form.
    """
    supplied = config.setting(SETTING)
    if supplied:
        return ServiceArea({"": supplied_bounds(supplied)}, supplied=True)
    customers = schema.customers
    query = sa.select(customers.c.region, customers.c.lat, customers.c.lon).where(
        customers.c.lat.is_not(None), customers.c.lon.is_not(None)
    )
    points = pd.DataFrame(conn.execute(query).all(), columns=["region", "lat", "lon"])
    return ServiceArea(district_bounds(points))
