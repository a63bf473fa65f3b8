"""Administration use cases: each change is validated with a message naming the bad value, and audited before and after."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text

from services.admin.business_settings import update_governance_policy, update_priority_weights
from services.admin.errors import InvalidAdminChange
from services.admin.templates import list_message_templates, update_message_template
from services.admin.users import add_user, change_role, list_user_accounts, set_approval_limit, set_user_active
from services.approvals.templates import DEFAULT_TEMPLATES
from services.auth.roles import Actor, Role, RoleRefused
from services.auth.users import authenticate
from services.db import schema
from services.exposure.settings import PriorityWeights, read_priority_weights
from services.recommend.governance import read_governance_policy
from tests.builders import make_user

ADMIN = Actor("ada", Role.ADMINISTRATOR)
PLANNER = Actor("ann", Role.PLANNER)


def audit_entries(engine, action: str) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.audit_log).where(schema.audit_log.c.action == action).order_by(schema.audit_log.c.id)
        ).mappings().all()
    return [dict(row) for row in rows]


def stored_setting(engine, key: str):
    with engine.connect() as connection:
        return connection.execute(text("select value from business_settings where key = :key"), {"key": key}).scalar_one_or_none()


# --- Priority weights and the governance policy -----------------------------------


def test_negative_weight_is_rejected_with_its_value(engine):
    with pytest.raises(InvalidAdminChange) as raised:
        update_priority_weights(engine, ADMIN, {"tier": Decimal("-3"), "sla": Decimal("20")})

    assert str(raised.value) == "priority_weights.tier -3 is negative or not finite; store a number of 0 or more"
    assert stored_setting(engine, "priority_weights") is None
    assert audit_entries(engine, "update_priority_weights") == []


def test_weights_change_is_stored_and_audited(engine):
    update_priority_weights(engine, ADMIN, {"tier": Decimal("35"), "sla": Decimal("20")})

    update_priority_weights(engine, ADMIN, {"tier": Decimal("50"), "sla": Decimal("12.5")})

    assert stored_setting(engine, "priority_weights") == {"tier": 50, "sla": 12.5}
    with engine.connect() as connection:
        assert read_priority_weights(connection) == PriorityWeights(tier=Decimal("50"), sla=Decimal("12.5"))
    entries = audit_entries(engine, "update_priority_weights")
    assert [(e["actor"], e["entity"], e["entity_id"]) for e in entries] == [("ada", "business_setting", "priority_weights")] * 2
    assert entries[0]["before"] is None
    assert entries[1]["before"] == {"tier": 35, "sla": 20}
    assert entries[1]["after"] == {"tier": 50, "sla": 12.5}


def test_planner_may_not_change_weights_and_is_audited(engine):
    with pytest.raises(RoleRefused, match=r"^ann \(planner\) may not change priority weights; ask a user with one of these roles: administrator$"):
        update_priority_weights(engine, PLANNER, {"tier": Decimal("50")})

    assert stored_setting(engine, "priority_weights") is None
    (entry,) = audit_entries(engine, "change_priority_weights_refused")
    assert entry["actor"] == "ann"
    assert entry["after"] == {"role": "planner"}


def test_auto_limit_above_leader_limit_is_rejected(engine):
    with pytest.raises(InvalidAdminChange) as raised:
        update_governance_policy(engine, ADMIN, {"auto_approve_value_limit": Decimal("30000"), "leader_value_limit": Decimal("25000")})

    assert str(raised.value) == (
        "governance_policy.auto_approve_value_limit 30000 is above leader_value_limit 25000; "
        "lower it to the leader limit or below"
    )
    assert stored_setting(engine, "governance_policy") is None


def test_escalate_cannot_be_automatic(engine):
    with pytest.raises(InvalidAdminChange) as raised:
        update_governance_policy(engine, ADMIN, {"auto_actions": ["allocate", "escalate"]})

    assert str(raised.value) == (
        "governance_policy.auto_actions ['allocate', 'escalate'] contains escalate, which always needs a planner; remove it"
    )


def test_governance_change_is_stored_and_audited(engine):
    update_governance_policy(engine, ADMIN, {"auto_approve_value_limit": Decimal("2500"), "auto_actions": ["allocate"]})

    with engine.connect() as connection:
        policy = read_governance_policy(connection)
    assert policy.auto_approve_value_limit == Decimal("2500")
    assert policy.auto_actions == ("allocate",)
    assert policy.leader_value_limit == Decimal("25000")
    (entry,) = audit_entries(engine, "update_governance_policy")
    assert entry["before"] is None
    assert entry["after"] == policy.as_json()
    assert stored_setting(engine, "governance_policy") == policy.as_json()


# --- Message templates ----------------------------------------------------------


def test_unknown_placeholder_is_rejected(engine):
    template = DEFAULT_TEMPLATES[0]

    with pytest.raises(InvalidAdminChange) as raised:
        update_message_template(engine, ADMIN, template.code, subject="Order {order_no}", body=template.body)

    assert str(raised.value).startswith(
        "placeholder {order_no} in the template subject is unknown; use only {order_number}, {line_number}, "
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Dear {customer_name},\n{note}\n{note}\n", "the template body has {note} 2 times; keep at most one free-text slot"),
        ("Dear {customer_name:>20},\n", "placeholder {customer_name} in the template body has a format spec or conversion; write it as {customer_name}"),
        ("Dear {customer_name,\n", "the template body has an unmatched brace (expected '}' before end of string); "
                                   "write placeholders as {name} and a literal brace as {{ or }}"),
        ("   \n", "the template body is empty; write the body of the message"),
    ],
)
def test_bad_template_body_is_rejected(engine, body, message):
    list_message_templates(engine, ADMIN)

    with pytest.raises(InvalidAdminChange) as raised:
        update_message_template(engine, ADMIN, "delay_notice", subject="Delay", body=body)

    assert str(raised.value) == message


def test_template_change_is_stored_and_audited(engine):
    before = list_message_templates(engine, ADMIN).set_index("code").loc["delay_notice"]

    update_message_template(
        engine, ADMIN, "delay_notice", subject="Order {order_number}: delayed", body="Dear {customer_name},\r\n{note}\r\nRegards  \r\n",
    )

    after = list_message_templates(engine, ADMIN).set_index("code").loc["delay_notice"]
    assert after["subject"] == "Order {order_number}: delayed"
    assert after["body"] == "Dear {customer_name},\n{note}\nRegards\n"
    (entry,) = audit_entries(engine, "update_message_template")
    assert entry["entity_id"] == "delay_notice"
    assert entry["before"] == {"subject": before["subject"], "body": before["body"]}
    assert entry["after"] == {"subject": after["subject"], "body": after["body"]}


# --- Users, roles and approval limits --------------------------------------------


def test_added_user_signs_in_and_is_audited(engine):
    user_id = add_user(engine, ADMIN, "pat", "pat-password", "planner", display_name="Pat", approval_limit=Decimal("7500"))

    actor = authenticate(engine, "pat", "pat-password")
    assert (actor.user_id, actor.role, actor.approval_limit) == (user_id, Role.PLANNER, Decimal("7500.00"))
    (entry,) = audit_entries(engine, "add_user")
    assert entry["before"] is None
    assert entry["after"] == {
        "id": user_id, "username": "pat", "display_name": "Pat", "role": "planner", "approval_limit": "7500", "active": True,
    }


def test_taken_username_is_rejected(engine):
    add_user(engine, ADMIN, "pat", "pat-password", "planner")

    with pytest.raises(InvalidAdminChange, match="^username 'pat' is taken; pick another or use set-password$"):
        add_user(engine, ADMIN, "pat", "other-password", "executive")

    assert len(audit_entries(engine, "add_user")) == 1


def test_negative_approval_limit_is_rejected(engine):
    with engine.begin() as connection:
        user = make_user(connection, username="pia")

    with pytest.raises(InvalidAdminChange) as raised:
        set_approval_limit(engine, ADMIN, user["id"], Decimal("-5"))

    assert str(raised.value) == "approval limit -5 of user pia is negative or not finite; use an amount of 0 or more"
    assert list_user_accounts(engine, ADMIN).set_index("username").loc["pia", "approval_limit"] == Decimal("5000.00")


def test_role_limit_and_deactivation_are_audited(engine):
    with engine.begin() as connection:
        user = make_user(connection, username="pia")

    change_role(engine, ADMIN, user["id"], "operations_leader")
    set_approval_limit(engine, ADMIN, user["id"], Decimal("12000"))
    set_user_active(engine, ADMIN, user["id"], False)

    row = list_user_accounts(engine, ADMIN).set_index("username").loc["pia"]
    assert (row["role"], row["approval_limit"], row["active"]) == ("operations_leader", Decimal("12000.00"), False)
    assert [(e["before"], e["after"]) for e in audit_entries(engine, "change_role")] == [
        ({"username": "pia", "role": "planner"}, {"username": "pia", "role": "operations_leader"})
    ]
    assert [(e["before"], e["after"]) for e in audit_entries(engine, "set_approval_limit")] == [
        ({"username": "pia", "approval_limit": "5000"}, {"username": "pia", "approval_limit": "12000"})
    ]
    assert [(e["before"], e["after"]) for e in audit_entries(engine, "deactivate_user")] == [
        ({"username": "pia", "active": True}, {"username": "pia", "active": False})
    ]


def test_last_active_administrator_keeps_the_role(engine):
    with engine.begin() as connection:
        admin = make_user(connection, username="root", role="administrator")

    with pytest.raises(InvalidAdminChange) as demoted:
        change_role(engine, ADMIN, admin["id"], "planner")
    with pytest.raises(InvalidAdminChange) as deactivated:
        set_user_active(engine, ADMIN, admin["id"], False)

    assert str(demoted.value) == (
        "cannot change the role of root to planner: root is the last active administrator; "
        "make another user an administrator first"
    )
    assert str(deactivated.value) == (
        "cannot deactivate root: root is the last active administrator; make another user an administrator first"
    )
    assert audit_entries(engine, "change_role") == []


def test_second_administrator_can_be_deactivated(engine):
    with engine.begin() as connection:
        make_user(connection, username="root", role="administrator")
        second = make_user(connection, username="root2", role="administrator")

    set_user_active(engine, ADMIN, second["id"], False)

    assert bool(list_user_accounts(engine, ADMIN).set_index("username").loc["root2", "active"]) is False


def test_executive_may_not_read_users(engine):
    with pytest.raises(RoleRefused, match="may not read the users"):
        list_user_accounts(engine, Actor("eve", Role.EXECUTIVE))
