"""Where the customers are: points for the map and the outlines of the districts they draw."""

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import spatial

from core import access
from core.kpis.periods import shift_period
from core.store import schema

# The map draws one point per customer; beyond this a browser struggles, so larger stores are cut.
MAP_MAX_POINTS = 100_000


def map_points(conn: sa.Connection, viewer: access.Viewer, period: str) -> pd.DataFrame:
    """Customers with coordinates and their energy over the twelve months up to ``period``.

    Args:
        conn: a store connection.
        viewer: who is asking; only customers in their scope count.
        period: the month, ``YYYY-MM``.

    Returns:
        Columns ``customer_id``, ``customer_class``, ``region``, ``lat``, ``lon``,
        ``annual_kwh``; at most :data:`MAP_MAX_POINTS` rows, largest consumers first.
    """
    customers, bills = schema.customers, schema.bills
    annual = (
        sa.select(bills.c.customer_id, sa.func.sum(bills.c.kwh_total).label("annual_kwh"))
        .where(bills.c.period > shift_period(period, -12), bills.c.period <= period)
        .group_by(bills.c.customer_id)
        .subquery()
    )
    annual_kwh = sa.func.coalesce(annual.c.annual_kwh, 0.0)
    query = (
        sa.select(
            customers.c.customer_id,
            customers.c.customer_class,
            customers.c.region,
            customers.c.lat,
            customers.c.lon,
            annual_kwh.label("annual_kwh"),
        )
        .outerjoin(annual, annual.c.customer_id == customers.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            customers.c.lat.is_not(None),
            customers.c.lon.is_not(None),
        )
        .order_by(annual_kwh.desc(), customers.c.customer_id)
        .limit(MAP_MAX_POINTS)
    )
    frame = pd.DataFrame(
        conn.execute(query).all(),
        columns=["customer_id", "customer_class", "region", "lat", "lon", "annual_kwh"],
    )
    return frame.astype({"lat": float, "lon": float, "annual_kwh": float})


# Customers' coordinates are gathered on a grid of this many degrees (about 1 km) before the
# outline of a district is drawn around them: a province's millions of customers become a few
# thousand cells, read in one grouped query.
OUTLINE_GRID_DEG = 0.01
# Cells beyond these quantiles of a district's latitudes or longitudes are left out of its
# outline: one mistyped coordinate would otherwise stretch it across its neighbours.
OUTLINE_TRIM = 0.01
# A district drawn with fewer cells than this has no area to outline; its name is still placed.
MIN_OUTLINE_CELLS = 3


def district_outlines(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """Each district's extent drawn from where its customers are: the convex hull of their cells.

    The store holds no boundaries; the customers' own coordinates show where a district's
    customers live, which is what a map of customers needs to be read by.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers count.

    Returns:
        One row per district (``region``): ``customers``, ``lat`` and ``lon`` of the centre of its
        customers, and ``outline``, a closed ring of ``[lon, lat]`` points (empty when the district
        has too few cells to enclose an area).
    """
    customers = schema.customers
    cell_lat = sa.func.round(customers.c.lat / OUTLINE_GRID_DEG)
    cell_lon = sa.func.round(customers.c.lon / OUTLINE_GRID_DEG)
    query = (
        sa.select(
            customers.c.region,
            cell_lat.label("cell_lat"),
            cell_lon.label("cell_lon"),
            sa.func.count().label("customers"),
        )
        .where(
            access.customer_scope(viewer, customers),
            customers.c.lat.is_not(None),
            customers.c.lon.is_not(None),
        )
        .group_by(customers.c.region, cell_lat, cell_lon)
    )
    cells = pd.DataFrame(
        conn.execute(query).all(), columns=["region", "cell_lat", "cell_lon", "customers"]
    )
    columns = ["region", "customers", "lat", "lon", "outline"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    cells["lat"] = cells["cell_lat"].astype(float) * OUTLINE_GRID_DEG
    cells["lon"] = cells["cell_lon"].astype(float) * OUTLINE_GRID_DEG
    rows = []
    for region, group in cells.groupby("region", sort=True):
        kept = _trimmed(group)
        weights = kept["customers"].astype(float)
        rows.append(
            {
                "region": region,
                "customers": int(group["customers"].sum()),
                "lat": float((kept["lat"] * weights).sum() / weights.sum()),
                "lon": float((kept["lon"] * weights).sum() / weights.sum()),
                "outline": _hull(kept[["lon", "lat"]].to_numpy()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _trimmed(cells: pd.DataFrame) -> pd.DataFrame:
    if len(cells) < MIN_OUTLINE_CELLS * 10:
        return cells
    keep = pd.Series(True, index=cells.index)
    for axis in ("lat", "lon"):
        low, high = cells[axis].quantile([OUTLINE_TRIM, 1 - OUTLINE_TRIM])
        keep &= cells[axis].between(low, high)
    return cells[keep]


def _hull(points: np.ndarray) -> list[list[float]]:
    """The convex hull of the cells, widened by half a cell so the outermost customers are in."""
    unique = np.unique(points, axis=0)
    if len(unique) < MIN_OUTLINE_CELLS:
        return []
    half = OUTLINE_GRID_DEG / 2
    corners = np.concatenate([unique + [dx, dy] for dx in (-half, half) for dy in (-half, half)])
    try:
        hull = spatial.ConvexHull(corners)
    except spatial.QhullError:
        return []
    ring = corners[hull.vertices]
    return [[round(float(lon), 5), round(float(lat), 5)] for lon, lat in [*ring, ring[0]]]
