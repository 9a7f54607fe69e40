"""The payload bucket: large payloads and results by reference. TLS only, S3-managed
encryption, public access blocked, and a lifecycle rule that expires objects after
``expire_days`` (payloads are only needed while their task lives)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct


class PayloadBucket(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, bucket_name: str | None, expire_days: int = 30
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-payloads",
                    expiration=Duration.days(expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
