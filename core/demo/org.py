"""The demo utility's organisation: Huangshi, its districts, their service offices and areas.

A real utility imports its organisation tree into ``org_units`` like any other table; the demo
writes one that matches its customers, so accounts can be scoped to a district or an office.
"""

import re

import pandas as pd
import sqlalchemy as sa

from core.store import engine as store_engine
from core.store import schema

CITY = "黄石市"
SEPARATOR = "/"
# The demo numbers transformer areas as its metering system would: "<district short><n>号台区".
_AREA_NUMBER = re.compile(r"(\d+)号?台区$")
# A service office (供电所) looks after a run of neighbouring transformer areas; eight consecutive
# numbers per office give each district of the default demo a handful of offices to scope to.
AREAS_PER_OFFICE = 8


def service_office_of(region: str, transformer_area: str | None) -> str | None:
    """The demo's service office (供电所) of a transformer area.

    Areas numbered ``<short><n>号台区`` belong to office ``(n - 1) // AREAS_PER_OFFICE + 1`` of
    their district (``黄石港区第2供电所``); areas named any other way belong to the district's own
    office (``黄石港区供电所``).

    Returns:
        The office's name, or None when the area has no name.
    """
    if not transformer_area:
        return None
    match = _AREA_NUMBER.search(transformer_area.strip())
    if match is None or int(match.group(1)) < 1:
        return f"{region}供电所"
    return f"{region}第{(int(match.group(1)) - 1) // AREAS_PER_OFFICE + 1}供电所"


def units(archive: pd.DataFrame) -> pd.DataFrame:
    """The organisation tree of the demo's customers, as rows of ``org_units``.

    Args:
        archive: the customers, with ``region`` and ``transformer_area``.

    Returns:
        ``path``, ``name``, ``level``, ``parent``: the city, then each district, its offices and
        their transformer areas.
    """
    rows = [{"path": CITY, "name": CITY, "level": "city", "parent": None}]
    placed = archive[["region", "transformer_area"]].drop_duplicates().dropna(subset=["region"])
    for region, areas in placed.groupby("region", sort=True)["transformer_area"]:
        rows.append({"path": region, "name": region, "level": "district", "parent": CITY})
        offices: dict[str, list[str]] = {}
        for area in sorted(area for area in areas.dropna().unique()):
            offices.setdefault(service_office_of(region, area), []).append(area)
        for office, served in sorted(offices.items()):
            office_path = f"{region}{SEPARATOR}{office}"
            rows.append(
                {"path": office_path, "name": office, "level": "service_office", "parent": region}
            )
            rows += [
                {
                    "path": f"{office_path}{SEPARATOR}{area}",
                    "name": area,
                    "level": "transformer_area",
                    "parent": office_path,
                }
                for area in served
            ]
    return pd.DataFrame(rows, columns=["path", "name", "level", "parent"])


def write(conn: sa.Connection, archive: pd.DataFrame) -> int:
    """Writes the demo's organisation tree into ``org_units``; returns how many units."""
    tree = units(archive)
    conn.execute(sa.delete(schema.org_units))
    return store_engine.bulk_insert(conn, schema.org_units, tree)
