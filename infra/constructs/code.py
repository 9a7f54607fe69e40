"""Lambda code without docker: a local bundler that copies the ``conveyor`` package, the
thin ``functions/`` entry points and the catalog's top-level package into the asset.

Nothing is pip-installed: the Lambda runtime brings boto3 and the public Powertools layer
brings Powertools (with the X-Ray SDK); Conveyor's runtime path needs nothing else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.md")


@jsii.implements(ILocalBundling)
class _CopySources:
    def __init__(self, root: Path, packages: tuple[str, ...]) -> None:
        self.root = root
        self.packages = packages

    def try_bundle(self, output_dir: str, *, image: object = None, **_: object) -> bool:
        out = Path(output_dir)
        shutil.copytree(
            self.root / "sdk" / "conveyor", out / "conveyor", ignore=_IGNORE, dirs_exist_ok=True
        )
        for package in self.packages:
            shutil.copytree(self.root / package, out / package, ignore=_IGNORE, dirs_exist_ok=True)
        return True


def conveyor_code(root: Path, catalog_module: str) -> lambda_.Code:
    """The asset for every executor function: conveyor + functions + the catalog package."""
    top = catalog_module.split(".")[0]
    packages = tuple(dict.fromkeys(("functions", top)))
    return lambda_.Code.from_asset(
        str(root / "functions"),
        asset_hash_type=AssetHashType.OUTPUT,  # hash what is shipped, sdk included
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=_CopySources(root, packages),
        ),
    )
