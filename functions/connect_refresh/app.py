"""Daily schedule: queue a utility sync for every live authorization (meterhub.logic.connect_refresh)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub.config import get_settings
from meterhub.dal.connect import dynamo_connect_repository
from meterhub.dal.queues import sqs_work_queue
from meterhub.logic.connect_refresh import queue_refresh
from meterhub.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = get_settings()
    queued = queue_refresh(
        dynamo_connect_repository(settings.connect_table_name), sqs_work_queue(settings.utility_sync_queue_url)
    )
    logger.info("Utility syncs queued", extra={"queued": queued})
    return {"queued": queued}
