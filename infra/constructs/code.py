"""Lambda code without docker: a local bundler that copies the ``conveyor`` package, the
thin ``functions/`` entry points and the catalog's top-level package into the asset.

Nothing is pip-installed: the Lambda runtime brings boto3 and the public Powertools layer
brings Powertools (with the X-Ray SDK); Conveyor's runtime path needs nothing else.
The asset ships bytecode compiled for the function's Python version (``infra.bundle``).
"""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from ..bundle import bundle_sources


@jsii.implements(ILocalBundling)
class _CopySources:
    def __init__(self, root: Path, packages: tuple[str, ...], python: str = "3.13") -> None:
        self.root = root
        self.packages = packages
        #: Python version of the function's runtime, "major.minor".
        self.python = python

    def try_bundle(self, output_dir: str, *, image: object = None, **_: object) -> bool:
        bundle_sources(self.root, self.packages, Path(output_dir), self.python)
        return True


def conveyor_code(root: Path, catalog_module: str, python: str = "3.13") -> lambda_.Code:
    """The asset for every executor function: conveyor + functions + the catalog package,
    with bytecode for Python ``python`` when an interpreter of that version is at hand."""
    top = catalog_module.split(".")[0]
    packages = tuple(dict.fromkeys(("functions", top)))
    return lambda_.Code.from_asset(
        str(root / "functions"),
        asset_hash_type=AssetHashType.OUTPUT,  # hash what is shipped, sdk included
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=_CopySources(root, packages, python),
        ),
    )
