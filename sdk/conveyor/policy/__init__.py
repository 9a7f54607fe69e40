"""Pure decision code: no boto3, no clock reads, no global randomness."""
