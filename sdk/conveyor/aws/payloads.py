"""S3PayloadStore: large payloads and results by reference (server-side encrypted)."""

from __future__ import annotations

from typing import Any


class S3PayloadStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            raise KeyError(f"no payload object {key!r} in bucket {self.bucket!r}") from None
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)
