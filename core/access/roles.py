"""Roles, the viewer a query runs for, and which pages each role may open."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from core import errors

Role = Literal["administrator", "manager", "analyst", "customer_manager", "inspector"]
ROLES: tuple[Role, ...] = get_args(Role)


class AccessError(errors.UserError):
    """A refusal a user can act on: who may do what, and why not."""


@dataclass(frozen=True)
class Viewer:
    """The person a query runs for.

    Attributes:
        user_name: the account name, recorded in the audit log.
        role: what the person does; decides pages and contact-field masking.
        regions: the districts the person may see; empty means the whole service area.
        manager_id: for a customer manager, only the customers assigned to this id.
        contact_grant: whether personal contact fields are shown unmasked.
        transformer_areas: for a service office, the transformer areas (台区) it serves; empty
            means every area of the districts in ``regions``.
    """

    user_name: str
    role: Role
    regions: tuple[str, ...] = ()
    manager_id: str | None = None
    contact_grant: bool = False
    transformer_areas: tuple[str, ...] = ()


def require_administrator(viewer: Viewer) -> None:
    """Refuses anyone but an administrator.

    Raises:
        AccessError: the viewer is no administrator.
    """
    if viewer.role != "administrator":
        raise AccessError("access.administrators_only")


# Batch jobs (demo generation, imports from the command line) run as the system.
SYSTEM = Viewer(user_name="system", role="administrator", contact_grant=True)


_EVERYONE: tuple[Role, ...] = ROLES
# What each page is for decides who sees it (DESIGN §1): administrators run the data and the
# accounts, managers read every window, analysts work on segments, forecasts, tariffs and
# campaigns, customer managers prepare visits to their own customers.
PAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "pages/overview.py": _EVERYONE,
    "pages/account.py": _EVERYONE,
    "pages/customer_360.py": ("manager", "analyst", "customer_manager"),
    "pages/segments.py": ("manager", "analyst"),
    "pages/forecast.py": ("manager", "analyst"),
    "pages/tariffs.py": ("manager", "analyst", "customer_manager"),
    # Customer managers follow up their own customers whom an online contact did not reach.
    "pages/campaigns.py": ("manager", "analyst", "customer_manager"),
    "pages/topic_windows.py": ("manager",),
    "pages/data_quality.py": ("administrator", "manager"),
    # Inspectors (稽查人员) see their own inspection orders only (core.inspection).
    "pages/risk.py": ("manager", "analyst", "customer_manager", "inspector"),
    "pages/admin.py": ("administrator",),
}
# A page nobody has given roles yet stays with the administrators: new windows on customer data
# must be opened to other roles on purpose, never by default.
UNLISTED_PAGE_ROLES: tuple[Role, ...] = ("administrator",)


def page_roles(page_path: str) -> tuple[Role, ...]:
    """The roles that may open a page.

    Args:
        page_path: the page file relative to the project root (``pages/admin.py``).

    Returns:
        The roles; :data:`UNLISTED_PAGE_ROLES` for a page missing from :data:`PAGE_ROLES`.
    """
    return PAGE_ROLES.get(page_path.replace("\\", "/"), UNLISTED_PAGE_ROLES)


def may_open(viewer: Viewer, page_path: str) -> bool:
    """Whether ``viewer``'s role may open the page at ``page_path``."""
    return viewer.role in page_roles(page_path)


def pages_for(viewer: Viewer, page_paths: Iterable[str]) -> list[str]:
    """The pages of ``page_paths`` that ``viewer`` may open, in their order."""
    return [path for path in page_paths if may_open(viewer, path)]


def contact_rule(role: str) -> Literal["always", "never", "granted"]:
    """Whether a role sees contact fields unmasked ``always``, ``never`` or when ``granted``."""
    if contact_grant_for(role, False):
        return "always"
    if not contact_grant_for(role, True):
        return "never"
    return "granted"


def contact_grant_for(role: str, granted: bool) -> bool:
    """Whether a role sees contact fields unmasked, given the account's grant.

    Customer managers always do (their scope is their own customers), analysts never, managers
    and administrators only when granted.
    """
    if role == "customer_manager":
        return True
    if role == "analyst":
        return False
    return granted
