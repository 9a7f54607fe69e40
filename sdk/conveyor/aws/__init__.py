"""AWS adapters for Conveyor's ports. The only package (with ``local``) that imports boto3."""

from .clients import AwsClients
from .events import EventBridgePublisher
from .lanes import SqsLanes
from .payloads import S3PayloadStore
from .store import DynamoTaskStore

__all__ = ["AwsClients", "DynamoTaskStore", "EventBridgePublisher", "S3PayloadStore", "SqsLanes"]
