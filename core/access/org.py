"""The organisation tree (city → district → service office) and the scope a unit covers."""

import re
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from core import config
from core.access.roles import AccessError
from core.store import schema

ORG_SEPARATOR = "/"


@dataclass(frozen=True)
class OrgUnit:
    """A node of the organisation tree.

    Attributes:
        path: ``""`` for the city, ``"<district>"``, or ``"<district>/<service office>"``.
        name: the unit's own name.
        level: ``city``, ``district`` or ``service_office``.
        parent: the parent's path; None for the city.
    """

    path: str
    name: str
    level: Literal["city", "district", "service_office"]
    parent: str | None


def city_name() -> str:
    """The name of the supply company's city (``WORKBENCH_CITY``, by default the demo's)."""
    return config.setting("WORKBENCH_CITY", "黄石市") or "黄石市"


# Transformer areas named as the metering system numbers them: "<district short><number>号台区".
_AREA_NUMBER = re.compile(r"(\d+)号?台区$")
# A service office (供电所) looks after a run of neighbouring transformer areas; eight consecutive
# numbers per office give a district of the default demo a handful of offices to scope to.
AREAS_PER_OFFICE = 8


def service_office_of(region: str, transformer_area: str | None) -> str | None:
    """The service office (供电所) serving a transformer area.

    Areas numbered ``<short><n>号台区`` belong to office ``(n - 1) // AREAS_PER_OFFICE + 1`` of
    their district (``黄石港区第2供电所``); areas named any other way belong to the district's own
    office (``黄石港区供电所``).

    Args:
        region: the district of the area.
        transformer_area: the transformer area's name.

    Returns:
        The office's name, or None when the area has no name.
    """
    if not transformer_area:
        return None
    match = _AREA_NUMBER.search(transformer_area.strip())
    if match is None or int(match.group(1)) < 1:
        return f"{region}供电所"
    return f"{region}第{(int(match.group(1)) - 1) // AREAS_PER_OFFICE + 1}供电所"


def org_units(conn: sa.Connection) -> list[OrgUnit]:
    """The organisation tree from the store: the city, its districts, their service offices.

    Districts are the ``customers.region`` values; service offices are derived from the
    transformer areas (:func:`service_office_of`).

    Args:
        conn: a store connection.

    Returns:
        The units, parents before children, districts and offices in name order.
    """
    units = [OrgUnit(path="", name=city_name(), level="city", parent=None)]
    rows = conn.execute(
        sa.select(schema.customers.c.region, schema.customers.c.transformer_area)
        .distinct()
        .order_by(schema.customers.c.region, schema.customers.c.transformer_area)
    ).all()
    offices: dict[str, set[str]] = {}
    for region, area in rows:
        office = service_office_of(region, area)
        offices.setdefault(region, set())
        if office:
            offices[region].add(office)
    for region in sorted(offices):
        units.append(OrgUnit(path=region, name=region, level="district", parent=""))
        for office in sorted(offices[region]):
            path = f"{region}{ORG_SEPARATOR}{office}"
            units.append(OrgUnit(path=path, name=office, level="service_office", parent=region))
    return units


def org_scope(conn: sa.Connection, org_unit: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The districts and transformer areas an organisation unit covers.

    Args:
        conn: a store connection.
        org_unit: a unit path (see :class:`OrgUnit`); None or ``""`` is the whole city.

    Returns:
        ``(regions, transformer_areas)``, each empty when it does not narrow the scope.

    Raises:
        AccessError: the unit is not in the organisation tree.
    """
    if not org_unit:
        return (), ()
    region, _, office = org_unit.partition(ORG_SEPARATOR)
    known = {unit.path for unit in org_units(conn)}
    if org_unit not in known:
        raise AccessError("access.unknown_org_unit", org_unit=org_unit)
    if not office:
        return (region,), ()
    areas = conn.execute(
        sa.select(schema.customers.c.transformer_area)
        .where(schema.customers.c.region == region)
        .distinct()
        .order_by(schema.customers.c.transformer_area)
    ).scalars()
    served = tuple(area for area in areas if service_office_of(region, area) == office)
    return (region,), served
