"""The runtime: running attempts (runner), dispatching lanes (dispatcher), executors,
the Lambda entry and the Fargate worker. Same code in AWS and in the dev cloud."""
