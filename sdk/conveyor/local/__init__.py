"""The dev cloud: moto server on loopback, provisioned from the catalog, plus the local
runtime pieces that moto does not run (executors, schedule firing, autoscaling)."""
