"""The dev cloud: moto server on loopback, provisioned from the catalog.

Only ever binds 127.0.0.1. boto3 and the ``aws`` CLI reach it through
``AWS_ENDPOINT_URL``; ``env()`` gives the variables to export.

moto's SQS is O(queue depth) per call (a receive at depth 1,000 takes about a second), so
the dev cloud is for correctness and demos with shallow lanes, never for load figures.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from .. import tracing
from ..aws.clients import AwsClients
from ..catalog import Catalog
from ..runtime import metrics
from ..topology import Topology
from .provision import Provisioned, provision

LOOPBACK = "127.0.0.1"
DEV_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "conveyor-dev",
    "AWS_SECRET_ACCESS_KEY": "conveyor-dev",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class DevCloud:
    """Start with ``start()`` (or ``with DevCloud(...) as cloud``); ``stop()`` shuts down."""

    catalog: Catalog
    topology: Topology = field(default_factory=Topology)
    port: int = 0
    catalog_module: str = ""
    server: Any = None
    provisioned: Provisioned | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def spans_path(self) -> str:
        """The JSON-lines file where this dev cloud's processes record trace spans."""
        import tempfile

        name = f"conveyor-spans-{self.topology.prefix}-{self.port}.jsonl"
        return os.path.join(tempfile.gettempdir(), name)

    @property
    def metrics_path(self) -> str:
        """The file where this dev cloud's processes append their EMF metric lines."""
        return self.spans_path.replace("conveyor-spans-", "conveyor-metrics-")

    def start(self) -> DevCloud:
        """Run moto server in a child process (its own interpreter, so it uses another
        core instead of sharing our GIL), wait until it answers, then provision."""
        import subprocess
        import sys
        import time
        import urllib.request

        if not self.port:
            self.port = free_port()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "conveyor.local.atomic", "-H", LOOPBACK, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {self.endpoint}") from None
                time.sleep(0.1)
        self.provisioned = provision(self.clients(), self.topology, self.catalog)
        tracing.use(tracing.FileSpans(self.spans_path))  # this process's dispatcher, SDK
        metrics.use_output(self.metrics_path)  # EMF lines, not on the terminal
        return self

    def clients(self, counter: Any = None) -> AwsClients:
        import boto3

        session = boto3.Session(
            aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=DEV_CREDENTIALS["AWS_DEFAULT_REGION"],
        )
        return AwsClients(session, endpoint_url=self.endpoint, counter=counter)

    def env(self) -> dict[str, str]:
        out = {"AWS_ENDPOINT_URL": self.endpoint, **DEV_CREDENTIALS, **self.topology.env()}
        out[tracing.SPANS_ENV] = self.spans_path
        out[metrics.OUTPUT_ENV] = self.metrics_path
        if self.catalog_module:
            out["CONVEYOR_CATALOG"] = self.catalog_module
        return out

    def stop(self) -> None:
        tracing.use(None)
        metrics.use_output(None)
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except Exception:
                self.server.kill()
            self.server = None

    def __enter__(self) -> DevCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dev_runtime(cloud: DevCloud, counter: Any = None, **kwargs: Any) -> Any:
    """The runtime (store, lanes, payloads, events) wired to ``cloud``'s endpoint."""
    from ..runtime.bootstrap import aws_runtime

    return aws_runtime(cloud.catalog, cloud.topology, cloud.clients(counter), **kwargs)


def dev_client(cloud: DevCloud, counter: Any = None, **kwargs: Any) -> Any:
    """A ``Conveyor`` SDK client wired to ``cloud`` (its requests counted by ``counter``)."""
    return dev_runtime(cloud, counter).client(**kwargs)
