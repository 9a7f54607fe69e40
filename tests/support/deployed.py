"""Read what ``cdk deploy`` would ship from a synthesized template, to run it locally.

``Shipped.from_synth`` collects each Lambda function (name, handler, environment, asset
directory in cdk.out, timeout, memory, reserved concurrency) and each ECS container
(command, environment). Intrinsics are resolved against ``physical``: a ``Ref`` to a
logical ID becomes the name given there; any other intrinsic is an error, so a template
that grows one this code does not model fails loudly instead of running something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.local.lambda_host import FunctionSpec


@dataclass(frozen=True)
class Container:
    logical_id: str
    command: tuple[str, ...]
    environment: dict[str, str]


def resolve(value: Any, physical: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in physical:
        return physical[value["Ref"]]
    raise ValueError(f"cannot resolve {value!r} locally")


@dataclass(frozen=True)
class Shipped:
    functions: dict[str, FunctionSpec]
    containers: dict[str, Container]

    @classmethod
    def from_synth(cls, template: dict[str, Any], outdir: Path, physical: dict[str, str]):
        functions: dict[str, FunctionSpec] = {}
        containers: dict[str, Container] = {}
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function":
                variables = props.get("Environment", {}).get("Variables", {})
                asset = props["Code"]["S3Key"].removesuffix(".zip")
                name = resolve(props["FunctionName"], physical)
                functions[name] = FunctionSpec(
                    name=name,
                    handler=props["Handler"],
                    code_dir=outdir / f"asset.{asset}",
                    environment={k: resolve(v, physical) for k, v in variables.items()},
                    timeout=float(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    reserved_concurrency=props.get("ReservedConcurrentExecutions"),
                )
            elif resource["Type"] == "AWS::ECS::TaskDefinition":
                for container in props["ContainerDefinitions"]:
                    containers[logical_id] = Container(
                        logical_id,
                        tuple(container["Command"]),
                        {
                            e["Name"]: resolve(e["Value"], physical)
                            for e in container.get("Environment", [])
                        },
                    )
        return cls(functions, containers)

    def container(self, *command: str) -> list[Container]:
        """The containers whose command starts with ``command``."""
        return [c for c in self.containers.values() if c.command[: len(command)] == command]
