"""Daily schedule: queue a utility sync for every live authorization (meterhub.connect.use_cases.refresh)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub.connect.adapters.dynamodb import dynamo_connect_repository
from meterhub.connect.use_cases.refresh import queue_refresh
from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
from meterhub.platform.observability import logger
from meterhub.platform.settings import ConnectTableSettings, UtilitySyncQueueSettings


class Settings(ConnectTableSettings, UtilitySyncQueueSettings):
    """This function's environment."""


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = Settings.load()
    queued = queue_refresh(
        dynamo_connect_repository(settings.connect_table_name), sqs_work_queue(settings.utility_sync_queue_url)
    )
    logger.info("Utility syncs queued", extra={"queued": queued})
    return {"queued": queued}
