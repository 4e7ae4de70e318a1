"""``helpdesk keys``: create, list and revoke API keys (the secret is printed once, at creation)."""

from __future__ import annotations

import click

from models.access import ROLES, create_key, list_keys, revoke_key
from models.db import session_scope
from models.settings import get_settings
from triage.cli.support import CLI_ACTOR, sessions

__all__ = ("DEMO_KEY_PREFIX", "demo_keys", "keys_group")

DEMO_KEY_PREFIX = "demo-"


@click.group("keys")
def keys_group() -> None:
    """API keys: each has a role (portal, agent, analyst, admin); only its hash is stored."""


@keys_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True, help="Who or what holds the key (shown in the audit trail).")
@click.option("--rate-limit", type=click.IntRange(1), default=None, help="Requests a minute (default: the role's).")
def create_command(role: str, name: str, rate_limit: int | None) -> None:
    """Create a key and print its secret (shown this once)."""
    with session_scope(sessions(get_settings())) as session:
        key, secret = create_key(session, role, name, rate_limit=rate_limit, actor=CLI_ACTOR)
        click.echo(f"key {key.id} ({key.role}, {key.name}): {secret}")


@keys_group.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
def list_command(include_revoked: bool) -> None:
    """List keys: id, role, name, prefix, rate limit, created and revoked times (never secrets)."""
    with session_scope(sessions(get_settings())) as session:
        for key in list_keys(session, include_revoked=include_revoked):
            revoked = f" revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
            limit = f"{key.rate_limit}/min" if key.rate_limit else "role default"
            click.echo(
                f"{key.id}\t{key.role}\t{key.name}\t{key.prefix}…\t{limit}\tcreated {key.created_at:%Y-%m-%d %H:%M}"
                f"{revoked}"
            )


@keys_group.command("revoke")
@click.argument("key_id", type=int)
def revoke_command(key_id: int) -> None:
    """Revoke key KEY_ID for good."""
    with session_scope(sessions(get_settings())) as session:
        key = revoke_key(session, key_id, actor=CLI_ACTOR)
        click.echo(f"key {key.id} ({key.role}, {key.name}) revoked")


def demo_keys() -> dict[str, str]:
    """A fresh demo key per role (earlier demo keys are revoked); returns role -> secret."""
    actor = CLI_ACTOR
    with session_scope(sessions(get_settings())) as session:
        for key in list_keys(session):
            if key.name.startswith(DEMO_KEY_PREFIX):
                revoke_key(session, key.id, actor=actor)
        return {role: create_key(session, role, DEMO_KEY_PREFIX + role, actor=actor)[1] for role in ROLES}
