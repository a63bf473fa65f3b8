"""The role-to-page map and the page check; no database."""

from __future__ import annotations

import pytest

from services.auth.navigation import (
    CONTROL_TOWER,
    CUSTOMER_UPDATES,
    EXPOSURE,
    OPERATIONS,
    RECOMMENDATIONS,
    REVENUE_AT_RISK,
    SETTINGS,
    SUPPLIER_ETA,
    WEEKLY_KPIS,
    UnknownPage,
    may_open,
    pages_for,
    require_page,
    roles_for,
)
from services.auth.roles import Actor, Role, RoleRefused


def test_pages_per_role():
    assert pages_for(Role.OPERATIONS_LEADER) == (
        CONTROL_TOWER, EXPOSURE, REVENUE_AT_RISK, RECOMMENDATIONS, SUPPLIER_ETA, WEEKLY_KPIS, OPERATIONS,
    )
    assert pages_for(Role.PLANNER) == (CONTROL_TOWER, RECOMMENDATIONS, EXPOSURE, SUPPLIER_ETA, CUSTOMER_UPDATES)
    assert pages_for(Role.EXECUTIVE) == (CONTROL_TOWER, WEEKLY_KPIS)
    assert pages_for(Role.ADMINISTRATOR) == (CONTROL_TOWER, SETTINGS, OPERATIONS, WEEKLY_KPIS, SUPPLIER_ETA)


def test_roles_per_page():
    assert roles_for(REVENUE_AT_RISK) == (Role.OPERATIONS_LEADER,)
    assert roles_for(EXPOSURE) == (Role.OPERATIONS_LEADER, Role.PLANNER)
    assert roles_for(OPERATIONS) == (Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
    assert roles_for(WEEKLY_KPIS) == (Role.EXECUTIVE, Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
    assert roles_for(RECOMMENDATIONS) == (Role.OPERATIONS_LEADER, Role.PLANNER)
    assert roles_for(CONTROL_TOWER) == tuple(Role)


def test_every_role_has_a_home_page():
    for role in Role:
        assert may_open(role, CONTROL_TOWER)


def test_unknown_page_is_named():
    with pytest.raises(UnknownPage, match="page 'reports' is unknown"):
        roles_for("reports")


def test_require_page_refuses_other_roles():
    planner = Actor(username="pat", role=Role.PLANNER)

    with pytest.raises(RoleRefused) as raised:
        require_page(planner, REVENUE_AT_RISK)

    assert str(raised.value) == (
        "pat (planner) may not open the Revenue at risk page; ask a user with one of these roles: operations leader"
    )
    require_page(planner, EXPOSURE)
