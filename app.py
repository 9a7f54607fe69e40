#!/usr/bin/env python3
"""The CDK app: `cdk deploy` (or `python app.py` to synthesize offline).

Context (cdk.json or -c): ``catalog`` (module path of the task catalog), ``stage``
(names every resource: conveyor-<stage>-...), ``shards`` (lanes per priority),
``nag`` (run the cdk-nag AwsSolutions and Serverless packs at synth; default true).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402

from infra.nag import apply_nag  # noqa: E402
from infra.stack import ConveyorStack  # noqa: E402


def build(app: cdk.App) -> ConveyorStack:
    ctx = app.node.try_get_context
    stage = str(ctx("stage") or "dev")
    stack = ConveyorStack(
        app,
        f"Conveyor-{stage}",
        catalog_module=str(ctx("catalog") or "examples.catalog"),
        stage=stage,
        shards=int(ctx("shards") or 1),
        scale_dispatcher=str(
            ctx("scale_dispatcher") if ctx("scale_dispatcher") is not None else "true"
        ).lower()
        != "false",
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION", "us-east-1"),
        ),
    )
    if str(ctx("nag") if ctx("nag") is not None else "true").lower() != "false":
        apply_nag(app, stack)
    return stack


if __name__ == "__main__":
    application = cdk.App(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    build(application)
    application.synth()
