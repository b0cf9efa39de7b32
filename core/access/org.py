"""The organisation tree (city → district → service office → transformer areas) and its scopes.

The tree is data: the ``org_units`` table, imported like any other table
(``python -m core import --table org_units FILE``; the demo writes its own). A store without one
still scopes accounts to its districts, the ``region`` of its customers.
"""

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from core import config
from core.access.roles import AccessError
from core.store import schema

ORG_SEPARATOR = "/"
# The levels of ``org_units.level``, from the top.
ORG_LEVELS = schema.ORG_LEVELS


@dataclass(frozen=True)
class OrgUnit:
    """A node of the organisation tree an account can be scoped to.

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
    """The supply company's city as configured (``WORKBENCH_CITY``); empty when not set."""
    return config.setting("WORKBENCH_CITY", "") or ""


def org_units(conn: sa.Connection) -> list[OrgUnit]:
    """The units accounts can be scoped to: the city, its districts, their service offices.

    Read from ``org_units``; a store without an organisation tree has the city and the districts
    its customers are in (``customers.region``).

    Args:
        conn: a store connection.

    Returns:
        The units, parents before children, districts and offices in name order.
    """
    table = schema.org_units
    rows = conn.execute(
        sa.select(table.c.path, table.c.name, table.c.level, table.c.parent)
        .where(table.c.level.in_(ORG_LEVELS[:3]))
        .order_by(table.c.path)
    ).all()
    cities = [row.name for row in rows if row.level == "city"]
    units = [OrgUnit(path="", name=cities[0] if cities else city_name(), level="city", parent=None)]
    districts = [row for row in rows if row.level == "district"]
    if not districts:
        customers = schema.customers
        names = conn.execute(
            sa.select(customers.c.region)
            .where(customers.c.region.is_not(None))
            .distinct()
            .order_by(customers.c.region)
        ).scalars()
        return units + [
            OrgUnit(path=name, name=name, level="district", parent="") for name in names
        ]
    offices: dict[str, list[sa.Row]] = {}
    for row in rows:
        if row.level == "service_office":
            offices.setdefault(row.parent or "", []).append(row)
    for district in sorted(districts, key=lambda row: row.path):
        units.append(OrgUnit(path=district.path, name=district.name, level="district", parent=""))
        units += [
            OrgUnit(office.path, office.name, "service_office", parent=district.path)
            for office in sorted(offices.get(district.path, []), key=lambda row: row.path)
        ]
    return units


def org_scope(conn: sa.Connection, org_unit: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The districts and transformer areas an organisation unit covers.

    Args:
        conn: a store connection.
        org_unit: a unit path (see :class:`OrgUnit`); None or ``""`` is the whole city.

    Returns:
        ``(regions, transformer_areas)``, each empty when it does not narrow the scope: a district
        covers its region, a service office the transformer areas ``org_units`` puts under it.

    Raises:
        AccessError: the unit is not in the organisation tree.
    """
    if not org_unit:
        return (), ()
    unit = next((unit for unit in org_units(conn) if unit.path == org_unit), None)
    if unit is None:
        raise AccessError("access.unknown_org_unit", org_unit=org_unit)
    if unit.level == "district":
        return (unit.name,), ()
    table = schema.org_units
    areas = (
        conn.execute(
            sa.select(table.c.name)
            .where(table.c.parent == unit.path, table.c.level == "transformer_area")
            .order_by(table.c.name)
        )
        .scalars()
        .all()
    )
    district = next(u for u in org_units(conn) if u.path == unit.parent)
    # An office with no areas listed covers none: an empty tuple would mean its whole district.
    return (district.name,), tuple(areas) or (f"{unit.path}{ORG_SEPARATOR}",)
