"""Typed settings read once from the environment.

Why a model: a missing or misspelt variable fails loudly at the first use instead of turning into a
`None` table name deep inside a request. Logic never reads `os.environ`; it receives these values.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

Stage = Literal["local", "dev", "staging", "prod"]


class Settings(BaseModel):
    stage: Stage = "dev"
    partners_table_name: str = Field(min_length=1)
    meters_table_name: str = Field(min_length=1)
    idempotency_table_name: str = Field(min_length=1)
    jobs_table_name: str = Field(min_length=1)
    data_bucket_name: str = Field(min_length=1)
    meter_jobs_queue_url: str = Field(min_length=1)
    intervals_table_name: str = Field(min_length=1)
    webhooks_table_name: str = Field(min_length=1)
    webhook_events_queue_url: str = Field(min_length=1)
    connect_table_name: str = Field(min_length=1)
    connect_tokens_key_id: str = Field(min_length=1)
    utility_sync_queue_url: str = Field(min_length=1)

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def is_local(self) -> bool:
        """The local runner: plain http to loopback is allowed (webhook receivers, Connect redirects)."""
        return self.stage == "local"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(
        {
            "stage": os.environ.get("STAGE", "dev"),
            "partners_table_name": os.environ.get("PARTNERS_TABLE_NAME", ""),
            "meters_table_name": os.environ.get("METERS_TABLE_NAME", ""),
            "idempotency_table_name": os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
            "jobs_table_name": os.environ.get("JOBS_TABLE_NAME", ""),
            "data_bucket_name": os.environ.get("DATA_BUCKET_NAME", ""),
            "meter_jobs_queue_url": os.environ.get("METER_JOBS_QUEUE_URL", ""),
            "intervals_table_name": os.environ.get("INTERVALS_TABLE_NAME", ""),
            "webhooks_table_name": os.environ.get("WEBHOOKS_TABLE_NAME", ""),
            "webhook_events_queue_url": os.environ.get("WEBHOOK_EVENTS_QUEUE_URL", ""),
            "connect_table_name": os.environ.get("CONNECT_TABLE_NAME", ""),
            "connect_tokens_key_id": os.environ.get("CONNECT_TOKENS_KEY_ID", ""),
            "utility_sync_queue_url": os.environ.get("UTILITY_SYNC_QUEUE_URL", ""),
        }
    )
