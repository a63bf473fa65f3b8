"""`control-tower users`: add users, change passwords, list users."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer

from services.auth.roles import Role

users_app = typer.Typer(help="Users who sign in to the app, and their roles.", no_args_is_help=True)

ROLE_HELP = "Role: " + ", ".join(role.value for role in Role) + "."


def _engine():
    from services.cli import _migrated_engine, _settings

    return _migrated_engine(_settings())


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _password(given: str | None) -> str:
    if given is not None:
        return given
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add_user(
    username: str = typer.Argument(..., help="Name to sign in with, without spaces."),
    role: str = typer.Option(..., help=ROLE_HELP),
    display_name: str = typer.Option("", help="Name shown in the app; default: the username."),
    approval_limit: str = typer.Option("0", help="Largest recommendation value a planner may approve, in the base currency; operations leaders approve any value."),
    password: str = typer.Option(None, help="Password of at least 8 characters; prompted for when omitted."),
) -> None:
    """Add a user with a role and a password."""
    from services.auth.users import InvalidUser, create_user

    if role not in {known.value for known in Role}:
        _fail(f"role {role!r} is unknown; use one of {', '.join(known.value for known in Role)}", code=2)
    try:
        limit = Decimal(approval_limit)
    except InvalidOperation:
        _fail(f"--approval-limit {approval_limit!r} is not a number; give an amount such as 25000", code=2)
    secret = _password(password)
    with _engine() as engine:
        try:
            user_id = create_user(
                engine, username, secret, role, display_name=display_name, approval_limit=limit
            )
        except InvalidUser as error:
            _fail(str(error), code=2)
    typer.echo(f"user {username} added with role {role} (id {user_id})")


@users_app.command("set-password")
def set_user_password(
    username: str = typer.Argument(..., help="User whose password to change."),
    password: str = typer.Option(None, help="New password of at least 8 characters; prompted for when omitted."),
) -> None:
    """Change a user's password."""
    from services.auth.users import InvalidUser, set_password

    secret = _password(password)
    with _engine() as engine:
        try:
            set_password(engine, username, secret)
        except InvalidUser as error:
            _fail(str(error), code=2)
    typer.echo(f"password of {username} changed")


@users_app.command("list")
def list_all_users() -> None:
    """List the users with their role, approval limit and whether they may sign in."""
    from services.auth.users import list_users

    with _engine() as engine:
        users = list_users(engine)
    if not users:
        typer.echo("no users; add one with `control-tower users add NAME --role ROLE`")
        return
    typer.echo(f"{'username':<20} {'role':<18} {'approval limit':>15} {'active':<6} display name")
    for user in users:
        # Operations leaders may approve a recommendation of any value, so their stored limit is not used.
        limit = "no limit" if user["role"] == "operations_leader" else f"{user['approval_limit']:,.2f}"
        typer.echo(
            f"{user['username']:<20} {user['role']:<18} {limit:>15} "
            f"{'yes' if user['active'] else 'no':<6} {user['display_name']}"
        )
