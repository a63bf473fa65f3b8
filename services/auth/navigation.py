"""Which pages each role sees: the one map that the navigation and the page guards read."""

from __future__ import annotations

from services.auth.roles import Actor, Role, require_role

CONTROL_TOWER = "control_tower"
EXPOSURE = "exposure"
REVENUE_AT_RISK = "revenue_at_risk"
OPERATIONS = "operations"
RECOMMENDATIONS = "recommendations"
SUPPLIER_ETA = "supplier_eta"
CUSTOMER_UPDATES = "customer_updates"
WEEKLY_KPIS = "weekly_kpis"
SETTINGS = "settings"

PAGE_TITLES = {
    CONTROL_TOWER: "Control tower",
    EXPOSURE: "Exposure",
    REVENUE_AT_RISK: "Revenue at risk",
    OPERATIONS: "Operations",
    RECOMMENDATIONS: "Recommendations",
    SUPPLIER_ETA: "Supplier ETA",
    CUSTOMER_UPDATES: "Customer updates",
    WEEKLY_KPIS: "Weekly KPIs",
    SETTINGS: "Settings",
}

# The administrator also gets the Control tower, because it shows how fresh
# every source and job is, which the administrator runs. Operations leaders
# approve the recommendations of the leader class, so they see that queue.
ROLE_PAGES: dict[Role, tuple[str, ...]] = {
    Role.OPERATIONS_LEADER: (
        CONTROL_TOWER, EXPOSURE, REVENUE_AT_RISK, RECOMMENDATIONS, SUPPLIER_ETA, WEEKLY_KPIS, OPERATIONS,
    ),
    Role.PLANNER: (CONTROL_TOWER, RECOMMENDATIONS, EXPOSURE, SUPPLIER_ETA, CUSTOMER_UPDATES),
    Role.EXECUTIVE: (CONTROL_TOWER, WEEKLY_KPIS),
    Role.ADMINISTRATOR: (CONTROL_TOWER, SETTINGS, OPERATIONS, WEEKLY_KPIS, SUPPLIER_ETA),
}


class UnknownPage(KeyError):
    """A page name that the role map does not list."""


def pages_for(role: Role) -> tuple[str, ...]:
    """Return the pages the role may open, in menu order."""
    return ROLE_PAGES[Role(role)]


def roles_for(page: str) -> tuple[Role, ...]:
    """Return the roles that may open the page, in the order of the Role enum."""
    if page not in PAGE_TITLES:
        raise UnknownPage(f"page {page!r} is unknown; use one of {', '.join(PAGE_TITLES)}")
    return tuple(role for role in Role if page in ROLE_PAGES[role])


def may_open(role: Role, page: str) -> bool:
    return Role(role) in roles_for(page)


def require_page(actor: Actor, page: str) -> None:
    """Raise RoleRefused unless the actor's role may open the page (and read its data)."""
    require_role(actor, f"open the {PAGE_TITLES[page]} page", *roles_for(page))
