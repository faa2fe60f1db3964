"""Daily schedule: queue a utility sync for every live authorization (meterhub.connect.use_cases.refresh)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.use_cases.refresh import queue_refresh
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import ConnectTableSettings, UtilitySyncQueueSettings


class Settings(ConnectTableSettings, UtilitySyncQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = Settings.load()
    queued = queue_refresh(wiring.connect_repository(settings), wiring.utility_sync_queue(settings))
    logger.info("Utility syncs queued", extra={"queued": queued})
    return {"queued": queued}
