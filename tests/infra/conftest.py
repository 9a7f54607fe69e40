"""Synthesize the CDK app once per test session (jsii boot is the expensive part)."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


class Synth:
    def __init__(self, tmp_dir, catalog: str = "examples.catalog", stage: str = "test") -> None:
        import aws_cdk as cdk
        from aws_cdk.assertions import Template

        import app as cdk_app

        self.app = cdk.App(outdir=str(tmp_dir), context={"catalog": catalog, "stage": stage})
        self.stack = cdk_app.build(self.app)
        # cdk-nag runs here, as policy validation: any unacknowledged finding raises.
        self.assembly = self.app.synth()
        self.template = Template.from_stack(self.stack)
        self.template_path = tmp_dir / f"{self.stack.stack_name}.template.json"
        self.json = json.loads(self.template_path.read_text())

    def resources(self, kind: str) -> dict:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    return Synth(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def direct_synth(tmp_path_factory) -> Synth:
    """A catalog with a ``direct`` Lambda type (SQS event source mapping), cdk-nag on."""
    return Synth(tmp_path_factory.mktemp("cdk.out"), "tests.support.direct_catalog", "direct")
