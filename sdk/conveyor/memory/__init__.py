"""In-memory twins of every port: same contract, no AWS, for unit tests and simulation."""

from .events import MemoryEvents
from .lanes import MemoryLanes
from .payloads import MemoryPayloadStore
from .store import MemoryTaskStore

__all__ = ["MemoryEvents", "MemoryLanes", "MemoryPayloadStore", "MemoryTaskStore"]
