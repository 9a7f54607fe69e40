"""Tenant boundaries at the HTTP edge: who is calling, and which tenant it may act for.

The caller's tenant comes from its identity, never from the request body:

* In AWS the API is IAM-authorized, so API Gateway puts the signer's ARN in
  ``requestContext.authorizer.iam.userArn``. ``principal_key`` normalizes it (an
  assumed-role session ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` becomes
  the role, ``arn:aws:iam::<acct>:role/<role>``, so every session of a role maps alike;
  role paths are not in the session ARN, so map roles without their path).
* A ``PrincipalDirectory`` maps the principal to a ``Grant``: its tenant, or ``admin``
  for every tenant (the DynamoDB items ``ctl#principal#<arn>``; see
  ``conveyor.aws.principals`` for why an item rather than an IAM principal tag).
  Principals named in ``CONVEYOR_ADMIN_PRINCIPALS`` (comma-separated ARNs, from the CDK
  context ``admin_principals``) are admins without an item.
* Lookups are cached per process for ``max_age`` seconds (60 by default), unmapped
  principals included, at most ``max_entries`` of them: a grant or a revocation takes
  effect within a minute, and a caller retrying in a loop costs one read a minute.

A caller with no identity is refused (403), except where ``anonymous_is_owner`` is set:
the dev cloud's loopback server, reachable only from this machine, treats a request
without the ``x-conveyor-principal`` header as the platform owner (as the SDK is).
Errors are ``Forbidden`` (HTTP 403). The SDK talks to AWS with the owner's credentials
and is not subject to any of this.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Forbidden
from ..ports import Clock, Grant, PrincipalDirectory

#: The header the dev cloud's loopback server honours to act as a principal.
PRINCIPAL_HEADER = "x-conveyor-principal"
ADMINS_ENV = "CONVEYOR_ADMIN_PRINCIPALS"
_ASSUMED = re.compile(r"\Aarn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/[^/]+\Z")


def principal_key(arn: str) -> str:
    """The directory key of a caller ARN: an assumed-role session becomes its role."""
    match = _ASSUMED.match(arn.strip())
    if match:
        partition, account, role = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return arn.strip()


def principal_of(event: Mapping[str, Any]) -> str | None:
    """The IAM caller of an API Gateway HTTP API (payload 2.0) event, or None."""
    context = event.get("requestContext") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}
    arn = iam.get("userArn")
    return principal_key(str(arn)) if arn else None


def admins_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    env = os.environ if environ is None else environ
    return frozenset(principal_key(a) for a in env.get(ADMINS_ENV, "").split(",") if a.strip())


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: ``tenant`` is None for an admin (or an unmapped principal)."""

    principal: str | None
    tenant: str | None
    admin: bool

    def require_tenant(self) -> str:
        """The tenant a non-admin caller acts for; Forbidden when it has none."""
        if self.tenant is None:
            raise Forbidden(f"principal {self.principal!r} is not mapped to a tenant")
        return self.tenant

    def submit_tenant(self, requested: Any) -> Any:
        """The tenant a submit runs as: an admin's choice (passed on as given, validated
        downstream), else the caller's own; naming another tenant is Forbidden."""
        if self.admin:
            return requested
        own = self.require_tenant()
        if requested is not None and requested != own:
            raise Forbidden(f"principal {self.principal!r} may not submit for another tenant")
        return own

    def may_see(self, tenant: str) -> bool:
        return self.admin or (self.tenant is not None and self.tenant == tenant)


OWNER = Caller(principal=None, tenant=None, admin=True)


class TenantAccess:
    """Event -> Caller, through a cached ``PrincipalDirectory``. Thread-safe."""

    def __init__(
        self,
        directory: PrincipalDirectory,
        clock: Clock,
        *,
        admins: Iterable[str] = (),
        anonymous_is_owner: bool = False,
        max_age: float = 60.0,
        max_entries: int = 10_000,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.admins = frozenset(principal_key(a) for a in admins)
        self.anonymous_is_owner = anonymous_is_owner
        self.max_age = max_age
        self.max_entries = max_entries
        self._cache: OrderedDict[str, tuple[float, Grant | None]] = OrderedDict()
        self._lock = threading.Lock()

    def caller(self, event: Mapping[str, Any]) -> Caller:
        principal = principal_of(event)
        if principal is None:
            if self.anonymous_is_owner:
                return OWNER
            raise Forbidden("the request carries no caller identity")
        if principal in self.admins:
            return Caller(principal, None, True)
        grant = self._grant(principal)
        if grant is None:
            return Caller(principal, None, False)
        return Caller(principal, None if grant.admin else grant.tenant, grant.admin)

    def _grant(self, principal: str) -> Grant | None:
        now = self.clock.now()
        with self._lock:
            hit = self._cache.get(principal)
            if hit is not None and now - hit[0] < self.max_age:
                return hit[1]
        grant = self.directory.lookup(principal)  # a failure answers 500: nothing leaks
        with self._lock:
            self._cache[principal] = (now, grant)
            self._cache.move_to_end(principal)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return grant


__all__ = [
    "ADMINS_ENV",
    "OWNER",
    "PRINCIPAL_HEADER",
    "Caller",
    "TenantAccess",
    "admins_from_env",
    "principal_key",
    "principal_of",
]
