"""Lambda entry point of every task-type executor: thin by design.

The function's environment names the catalog (CONVEYOR_CATALOG) and the deployment
(CONVEYOR_PREFIX, CONVEYOR_SHARDS, CONVEYOR_BUCKET); all logic lives in
``conveyor.runtime``, the same code the dev cloud runs.
"""

from conveyor.runtime.lambda_entry import make_handler

handler = make_handler()
