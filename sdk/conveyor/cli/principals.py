"""Who may use the HTTP API for which tenant: ``conveyor principals grant|revoke|show``.

Run by the platform owner with their own credentials; each command reads or writes one
``ctl#principal#<arn>`` item (``conveyor.aws.principals``). The submit API caches grants
for a minute, so a change takes effect within one."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import InvalidOption
from ..ids import validate_tenant
from ..ports import Grant, PrincipalDirectory
from ..runtime.access import principal_key
from .common import print_json

ArnArg = Annotated[
    str, typer.Argument(help="IAM role or user ARN (a role session maps to its role)")
]


def _directory() -> PrincipalDirectory:
    from ..aws import AwsClients
    from ..aws.principals import DynamoPrincipals
    from ..topology import Topology

    return DynamoPrincipals(AwsClients().dynamodb, Topology.from_env().table)


def _key(arn: str) -> str:
    if not arn.startswith("arn:"):
        raise InvalidOption(f"{arn!r} is not an IAM ARN")
    return principal_key(arn)


def grant(
    arn: ArnArg,
    tenant: Annotated[str | None, typer.Option(help="the tenant it acts for")] = None,
    admin: Annotated[bool, typer.Option(help="act on every tenant")] = False,
) -> None:
    """Let a principal submit, read and cancel its tenant's tasks (or all, with --admin)."""
    if tenant is None and not admin:
        raise InvalidOption("give --tenant or --admin")
    key = _key(arn)
    found = Grant(None if tenant is None else validate_tenant(tenant), admin)
    _directory().grant(key, found)
    print_json({"principal": key, "tenant": found.tenant, "admin": found.admin})


def revoke(arn: ArnArg) -> None:
    """Remove a principal's grant: it gets 403 on every request."""
    key = _key(arn)
    _directory().revoke(key)
    print_json({"principal": key, "revoked": True})


def show(arn: ArnArg) -> None:
    """A principal's grant (null when it has none)."""
    key = _key(arn)
    found = _directory().lookup(key)
    print_json({"principal": key, "tenant": found.tenant, "admin": found.admin} if found else None)


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help=__doc__.splitlines()[0] if __doc__ else None)
    group.command()(grant)
    group.command()(revoke)
    group.command()(show)
    app.add_typer(group, name="principals")
