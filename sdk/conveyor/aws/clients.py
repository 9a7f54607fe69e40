"""One place that builds boto3 clients, the boto3 way: session, profile, region, endpoint.

Clients are built on first *use*, not when an adapter is wired: ``clients.s3`` is a
``LazyClient`` that creates the boto3 client the first time one of its attributes is read.
A Lambda attempt that only touches DynamoDB builds one client (each costs ~20-40 ms of
cold start), whatever the runtime wiring holds.

``AWS_ENDPOINT_URL`` (and per-service ``AWS_ENDPOINT_URL_SQS`` ...) are honoured by boto3
itself, so pointing the SDK at the dev cloud needs no Conveyor-specific setting. Clients
of a loopback endpoint say clearly when the dev cloud restarted or stopped (devcloud_guard).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from . import requestlog
from .devcloud_guard import guard

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
)


class LazyClient:
    """Stands for the boto3 client of one service; builds it on first attribute access."""

    def __init__(self, factory: AwsClients, service: str) -> None:
        self._factory = factory
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory.client(self._service), name)

    def __repr__(self) -> str:
        return f"LazyClient({self._service!r})"


class AwsClients:
    """Lazily created, cached clients. Thread-safe; one per process is enough."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
        counter: Any = None,
    ) -> None:
        if session is None:
            session = boto3.Session(profile_name=profile, region_name=region)
        self.session = session
        self.region = region or session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self.config = config or _CONFIG
        #: An optional RequestCounter attached to every client this factory makes.
        self.counter = counter
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=self.config,
                )
                if self.counter is not None:
                    self.counter.attach(client)
                log = requestlog.current()
                if log is not None:  # the independent count (CONVEYOR_REQUEST_LOG)
                    log.attach(client)
                guard(client)
                self._clients[service] = client
            return self._clients[service]

    def lazy(self, service: str) -> LazyClient:
        """The client of ``service``, built when first used."""
        return LazyClient(self, service)

    def built(self) -> list[str]:
        """Services whose client exists (for tests and the cold-start bench)."""
        with self._lock:
            return sorted(self._clients)

    @property
    def sqs(self) -> Any:
        return self.lazy("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.lazy("dynamodb")

    @property
    def s3(self) -> Any:
        return self.lazy("s3")

    @property
    def events(self) -> Any:
        return self.lazy("events")

    @property
    def lambda_(self) -> Any:
        return self.lazy("lambda")

    @property
    def scheduler(self) -> Any:
        return self.lazy("scheduler")
