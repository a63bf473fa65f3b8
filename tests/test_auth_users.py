"""Users, hashed passwords, sign-in and the `control-tower users` commands, on a real PostgreSQL database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from services.auth.roles import Role
from services.auth.users import (
    DEMO_USERS,
    InvalidUser,
    SignInFailed,
    authenticate,
    create_user,
    ensure_demo_users,
    list_users,
    set_password,
)
from services.db import schema
from tests.test_settings import run_cli


def test_password_is_stored_hashed(engine):
    create_user(engine, "dana", "correct horse", "planner")

    with engine.connect() as connection:
        stored = connection.execute(select(schema.users.c.password_hash)).scalar_one()

    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_authenticate_returns_actor(engine):
    user_id = create_user(
        engine, "dana", "correct horse", "operations_leader", display_name="Dana Ortiz",
        approval_limit=Decimal("50000"),
    )

    actor = authenticate(engine, "dana", "correct horse")

    assert actor.username == "dana"
    assert actor.role is Role.OPERATIONS_LEADER
    assert actor.user_id == user_id
    assert actor.display_name == "Dana Ortiz"
    assert actor.approval_limit == Decimal("50000")


@pytest.mark.parametrize(("username", "password"), [("dana", "wrong horse"), ("nobody", "correct horse"), ("dana", "")])
def test_failed_sign_in_names_no_cause(engine, username, password):
    create_user(engine, "dana", "correct horse", "planner")

    with pytest.raises(SignInFailed) as raised:
        authenticate(engine, username, password)

    assert str(raised.value) == "unknown username or wrong password; check both and try again"


def test_inactive_user_cannot_sign_in(engine):
    create_user(engine, "dana", "correct horse", "planner")
    with engine.begin() as connection:
        connection.execute(update(schema.users).values(active=False))

    with pytest.raises(SignInFailed):
        authenticate(engine, "dana", "correct horse")


def test_set_password_replaces_the_old(engine):
    create_user(engine, "dana", "correct horse", "planner")

    set_password(engine, "dana", "battery staple")

    assert authenticate(engine, "dana", "battery staple").username == "dana"
    with pytest.raises(SignInFailed):
        authenticate(engine, "dana", "correct horse")


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("dana", "short", "planner", "password has 5 characters; use at least 8"),
        ("dana smith", "correct horse", "planner", "username 'dana smith' is invalid; use 1 to 64 characters without spaces"),
        ("", "correct horse", "planner", "username '' is invalid; use 1 to 64 characters without spaces"),
        ("dana", "correct horse", "boss", "role 'boss' is unknown; use one of executive, operations_leader, planner, administrator"),
    ],
)
def test_bad_user_is_rejected(engine, username, password, role, message):
    with pytest.raises(InvalidUser) as raised:
        create_user(engine, username, password, role)

    assert str(raised.value) == message


def test_taken_username_is_rejected(engine):
    create_user(engine, "dana", "correct horse", "planner")

    with pytest.raises(InvalidUser, match="username 'dana' is taken; pick another or use set-password"):
        create_user(engine, "dana", "another horse", "executive")


def test_unknown_user_password_change_rejected(engine):
    with pytest.raises(InvalidUser, match="user 'ghost' does not exist"):
        set_password(engine, "ghost", "correct horse")


def test_demo_users_one_per_role(engine):
    created = ensure_demo_users(engine)

    assert created == 4
    users = list_users(engine)
    assert sorted(user["role"] for user in users) == sorted(role.value for role in Role)
    for demo_user in DEMO_USERS:
        assert authenticate(engine, demo_user.username, demo_user.password).role is demo_user.role


def test_demo_users_keep_changed_password(engine):
    ensure_demo_users(engine)
    set_password(engine, "planner", "my own planner password")

    created = ensure_demo_users(engine)

    assert created == 0
    assert authenticate(engine, "planner", "my own planner password").username == "planner"
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from users")).scalar_one() == 4


def test_users_commands_add_list_set_password(engine, database_url):
    environment = {"DATABASE_URL": database_url}

    added = run_cli("users", "add", "dana", "--role", "planner", "--password", "correct horse", environment=environment)
    changed = run_cli("users", "set-password", "dana", "--password", "battery staple", environment=environment)
    listed = run_cli("users", "list", environment=environment)

    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("user dana added with role planner (id ")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "password of dana changed"
    assert listed.stdout.splitlines()[1].split() == ["dana", "planner", "0.00", "yes", "dana"]
    assert authenticate(engine, "dana", "battery staple").role is Role.PLANNER


def test_users_add_bad_role_exits_2(database_url):
    result = run_cli(
        "users", "add", "dana", "--role", "boss", "--password", "correct horse",
        environment={"DATABASE_URL": database_url},
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: role 'boss' is unknown; use one of executive, operations_leader, planner, administrator"
    )


def test_users_list_shows_leaders_without_limit(database_url):
    environment = {"DATABASE_URL": database_url}
    run_cli("users", "add", "lee", "--role", "operations_leader", "--password", "correct horse", environment=environment)
    run_cli(
        "users", "add", "pat", "--role", "planner", "--password", "correct horse",
        "--approval-limit", "25000", environment=environment,
    )

    listed = run_cli("users", "list", environment=environment)

    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["lee"][:4] == ["lee", "operations_leader", "no", "limit"]
    assert rows["pat"][:3] == ["pat", "planner", "25,000.00"]
