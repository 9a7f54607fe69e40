#!/usr/bin/env python3
"""The CDK app: `cdk deploy` (or `python app.py` to synthesize offline).

Context (cdk.json or -c): ``catalog`` (module path of the task catalog), ``stage``
(names every resource: conveyor-<stage>-...), ``nag`` (run the cdk-nag AwsSolutions and
Serverless packs at synth; default true), and the multi-tenant settings (defaults in
``DEFAULTS``): ``shards`` (lanes per priority class), ``spread`` (lanes per tenant,
shuffle sharding), ``pool`` (spare lanes the dynamic pool lends to heavy tenants),
``max_dispatchers`` (the dispatcher service scales from one task up to this), and
``alarm_email`` (subscribed to the alarm topic; optional), ``admin_principals``
(comma-separated IAM ARNs that may act on every tenant over HTTP; optional),
``scale_dispatcher`` (false: always exactly one dispatcher).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402

from infra.nag import apply_nag  # noqa: E402
from infra.stack import ConveyorStack  # noqa: E402

#: Multi-tenant settings of a deployment when the context does not set them.
DEFAULTS: dict[str, int] = {"shards": 8, "spread": 2, "pool": 4, "max_dispatchers": 3}


def _flag(value: Any, default: bool) -> bool:
    return default if value is None else str(value).lower() != "false"


def _whole(ctx: Any, name: str) -> int:
    value = ctx(name)
    return DEFAULTS[name] if value is None or value == "" else int(value)


def build(app: cdk.App) -> ConveyorStack:
    ctx = app.node.try_get_context
    stage = str(ctx("stage") or "dev")
    admins = ctx("admin_principals") or ""
    if isinstance(admins, str):
        admins = [a for a in admins.split(",") if a.strip()]
    stack = ConveyorStack(
        app,
        f"Conveyor-{stage}",
        catalog_module=str(ctx("catalog") or "examples.catalog"),
        stage=stage,
        shards=_whole(ctx, "shards"),
        spread=_whole(ctx, "spread"),
        pool=_whole(ctx, "pool"),
        max_dispatchers=_whole(ctx, "max_dispatchers"),
        alarm_email=str(ctx("alarm_email") or "") or None,
        admin_principals=tuple(str(a).strip() for a in admins),
        scale_dispatcher=_flag(ctx("scale_dispatcher"), True),
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION", "us-east-1"),
        ),
    )
    if _flag(ctx("nag"), True):
        apply_nag(app, stack)
    return stack


if __name__ == "__main__":
    application = cdk.App(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    build(application)
    application.synth()
