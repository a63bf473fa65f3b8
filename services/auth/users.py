"""Users with argon2-hashed passwords: create, change the password, list, and sign in.

Sign-in failures carry one message whatever the cause (unknown user,
wrong password, deactivated user), so the form does not tell which
usernames exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.auth.roles import Actor, Role
from services.db import schema

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 64

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that an unknown user
# costs the same hashing time as a wrong password.
_UNKNOWN_USER_HASH = _hasher.hash("no user has this password")


class SignInFailed(Exception):
    """The username and password do not match an active user."""

    def __init__(self) -> None:
        super().__init__("unknown username or wrong password; check both and try again")


class InvalidUser(ValueError):
    """A username, role or password that cannot be stored; the message names the value and the rule."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    password: str
    approval_limit: Decimal


# Known passwords for the demo distributor. `control-tower users
# set-password USERNAME` changes them.
DEMO_USERS = (
    DemoUser("executive", "Demo executive", Role.EXECUTIVE, "executive-demo", Decimal("0")),
    DemoUser("leader", "Demo operations leader", Role.OPERATIONS_LEADER, "leader-demo", Decimal("250000")),
    DemoUser("planner", "Demo planner", Role.PLANNER, "planner-demo", Decimal("25000")),
    DemoUser("admin", "Demo administrator", Role.ADMINISTRATOR, "admin-demo", Decimal("0")),
)


def hash_password(password: str) -> str:
    """Hash a password with argon2id; raise InvalidUser when it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(
            f"password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}"
        )
    return _hasher.hash(password)


def _check_username(username: str) -> str:
    cleaned = username.strip()
    if not cleaned or len(cleaned) > MAX_USERNAME_LENGTH or any(ch.isspace() for ch in cleaned):
        raise InvalidUser(
            f"username {username!r} is invalid; use 1 to {MAX_USERNAME_LENGTH} characters without spaces"
        )
    return cleaned


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidUser(
            f"role {role!r} is unknown; use one of {', '.join(r.value for r in Role)}"
        ) from None


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    approval_limit: Decimal = Decimal("0"),
) -> int:
    """Store a new user with a hashed password and return its id.

    Raises InvalidUser for a bad username, role, password or approval
    limit, or when the username is taken.
    """
    with engine.begin() as connection:
        user_id = insert_user(
            connection, username, password, role, display_name=display_name, approval_limit=approval_limit
        )
    return user_id


def insert_user(
    connection: Connection,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    approval_limit: Decimal = Decimal("0"),
) -> int:
    """Insert a new user in the caller's transaction and return its id; raises InvalidUser as create_user does."""
    name = _check_username(username)
    checked_role = _check_role(role)
    if approval_limit < 0:
        raise InvalidUser(f"approval limit {approval_limit} is negative; use 0 or more")
    password_hash = hash_password(password)

    taken = connection.execute(
        select(schema.users.c.id).where(schema.users.c.username == name)
    ).first()
    if taken is not None:
        raise InvalidUser(f"username {name!r} is taken; pick another or use set-password")
    user_id = connection.execute(
        insert(schema.users)
        .values(
            username=name, display_name=display_name or name, role=checked_role.value,
            password_hash=password_hash, approval_limit=approval_limit,
        )
        .returning(schema.users.c.id)
    ).scalar_one()

    logger.info("user %s created with role %s (id %d)", name, checked_role.value, user_id)
    return user_id


def set_password(engine: Engine, username: str, password: str) -> None:
    """Replace a user's password; raise InvalidUser for an unknown user or a short password."""
    password_hash = hash_password(password)

    with engine.begin() as connection:
        changed = connection.execute(
            update(schema.users)
            .where(schema.users.c.username == username)
            .values(password_hash=password_hash)
            .returning(schema.users.c.id)
        ).first()
    if changed is None:
        raise InvalidUser(f"user {username!r} does not exist; `control-tower users list` shows the users")
    logger.info("password of user %s (id %d) changed", username, changed.id)


def list_users(engine: Engine) -> list[dict]:
    """Return every user's id, username, display name, role, approval limit and active flag."""
    columns = schema.users.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                columns.id, columns.username, columns.display_name, columns.role,
                columns.approval_limit, columns.active,
            ).order_by(columns.username)
        ).mappings().all()
    return [dict(row) for row in rows]


def authenticate(engine: Engine, username: str, password: str) -> Actor:
    """Return the actor for an active user whose password matches; raise SignInFailed otherwise."""
    with engine.connect() as connection:
        user = connection.execute(
            select(schema.users).where(schema.users.c.username == username.strip())
        ).mappings().first()

    stored_hash = user["password_hash"] if user else _UNKNOWN_USER_HASH
    try:
        _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        logger.warning("sign-in failed for username %r", username)
        raise SignInFailed() from None
    if user is None or not user["active"]:
        logger.warning("sign-in failed for username %r", username)
        raise SignInFailed()

    if _hasher.check_needs_rehash(stored_hash):
        with engine.begin() as connection:
            connection.execute(
                update(schema.users).where(schema.users.c.id == user["id"])
                .values(password_hash=_hasher.hash(password))
            )
    logger.info("user %s (id %d) signed in", user["username"], user["id"])
    return Actor(
        username=user["username"], role=Role(user["role"]), approval_limit=user["approval_limit"],
        user_id=user["id"], display_name=user["display_name"],
    )


def ensure_demo_users(engine: Engine) -> int:
    """Create the demo users that do not exist yet and return how many were created.

    An existing demo user keeps its password, so a changed password survives
    a reload of the demo.
    """
    rows = [
        {
            "username": user.username, "display_name": user.display_name, "role": user.role.value,
            "password_hash": hash_password(user.password), "approval_limit": user.approval_limit,
        }
        for user in DEMO_USERS
    ]
    with engine.begin() as connection:
        created = connection.execute(
            pg_insert(schema.users).values(rows)
            .on_conflict_do_nothing(index_elements=["username"])
            .returning(schema.users.c.username)
        ).scalars().all()
    if created:
        logger.info("demo users created: %s", ", ".join(created))
    return len(created)
