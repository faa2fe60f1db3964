"""Typed settings read once from the environment: one model per function, assembled from the parts below.

Why a model: a missing or misspelt variable fails loudly at the first use instead of turning into a
`None` table name deep inside a request. Why one per function: a function declares exactly the variables it
uses, template.yaml gives it exactly those (tests/contract/test_function_settings.py holds both to each other),
and a variable no function reads cannot linger in the template. This is the only module that reads
`os.environ`; everything else receives these values (the adapters through `meterhub.wiring`).

A field `x_y` is the variable `X_Y`. A field named in `ENVIRONMENT_PREFIXES` is a family instead: every
variable starting with the prefix, by its full name (the real utilities' optional `UTILITY_<ID>_<NAME>`).

Why not pydantic-settings: it would add a package (and its import time) to the layer for what `from_environ`
does in a dozen lines, and this shape (exact names, one prefix family) needs none of its sources.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["local", "dev", "staging", "prod"]


class EnvironmentSettings(BaseModel):
    """A set of environment variables; a function's settings model combines parts (pydantic merges the fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ENVIRONMENT_PREFIXES: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def variable_names(cls) -> frozenset[str]:
        """The exact variables this model reads (prefix families not included: see `variable_prefixes`)."""
        return frozenset(name.upper() for name in cls.model_fields if name not in cls.ENVIRONMENT_PREFIXES)

    @classmethod
    def variable_prefixes(cls) -> frozenset[str]:
        return frozenset(prefix for name, prefix in cls.ENVIRONMENT_PREFIXES.items() if name in cls.model_fields)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        exact = cls.variable_names()
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            prefix = cls.ENVIRONMENT_PREFIXES.get(name)
            if prefix is None:
                if name.upper() in source:
                    values[name] = source[name.upper()]
            else:
                values[name] = {k: v for k, v in source.items() if k.startswith(prefix) and k not in exact}
        return cls.model_validate(values)

    @classmethod
    def load(cls) -> Self:
        """This model read from the environment once per process (a Lambda environment's variables never change)."""
        loaded = _loaded.get(cls)
        if loaded is None:
            loaded = _loaded[cls] = cls.from_environ()
        return cast(Self, loaded)


_loaded: dict[type[EnvironmentSettings], EnvironmentSettings] = {}


def forget_loaded_settings() -> None:
    """Read every model again on its next `load` (tests change the environment between cases)."""
    _loaded.clear()


# ----- parts ---------------------------------------------------------------------------------------------


class StageSettings(EnvironmentSettings):
    stage: Stage = "dev"

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def is_local(self) -> bool:
        """The local runner: plain http to loopback is allowed (webhook receivers, Connect redirects)."""
        return self.stage == "local"


class PartnersTableSettings(EnvironmentSettings):
    partners_table_name: str = Field(min_length=1)


class MetersTableSettings(EnvironmentSettings):
    meters_table_name: str = Field(min_length=1)


class IdempotencyTableSettings(EnvironmentSettings):
    idempotency_table_name: str = Field(min_length=1)


class JobsTableSettings(EnvironmentSettings):
    jobs_table_name: str = Field(min_length=1)


class IntervalsTableSettings(EnvironmentSettings):
    intervals_table_name: str = Field(min_length=1)


class WebhooksTableSettings(EnvironmentSettings):
    webhooks_table_name: str = Field(min_length=1)


class ConnectTableSettings(EnvironmentSettings):
    connect_table_name: str = Field(min_length=1)


class ConnectTokensKeySettings(EnvironmentSettings):
    connect_tokens_key_id: str = Field(min_length=1)


class DataBucketSettings(EnvironmentSettings):
    data_bucket_name: str = Field(min_length=1)


class MeterJobsQueueSettings(EnvironmentSettings):
    meter_jobs_queue_url: str = Field(min_length=1)


class WebhookEventsQueueSettings(EnvironmentSettings):
    webhook_events_queue_url: str = Field(min_length=1)


class UtilitySyncQueueSettings(EnvironmentSettings):
    utility_sync_queue_url: str = Field(min_length=1)


class PublicBaseUrlSettings(EnvironmentSettings):
    """PUBLIC_BASE_URL: the API's base URL behind a custom domain; empty = derived from each request."""

    public_base_url: str = ""


class UtilityProviderSettings(EnvironmentSettings):
    """The real utilities' optional UTILITY_<ID>_<NAME> variables (meterhub.utility_providers.records)."""

    ENVIRONMENT_PREFIXES: ClassVar[Mapping[str, str]] = {"utility_variables": "UTILITY_"}

    utility_variables: dict[str, str] = Field(default_factory=dict)


class SftpUserRoleSettings(EnvironmentSettings):
    """SFTP_USER_ROLE_ARN: the role AWS Transfer Family assumes for every SFTP login (narrowed per login)."""

    sftp_user_role_arn: str = Field(min_length=1)


class IntervalFilesQueueSettings(EnvironmentSettings):
    """INTERVAL_FILES_QUEUE_URL: the S3 notifications of dropped interval files (a file that waits for its
    partner's worker slot is queued there again)."""

    interval_files_queue_url: str = Field(min_length=1)


class IntervalFanOutSettings(EnvironmentSettings):
    """How a large interval file is cut up and fanned out (intervals/use_cases/fanout.py): files over
    INTERVAL_FAN_OUT_BYTES (0: never) go to INTERVAL_PIECES_QUEUE_URL as pieces of INTERVAL_PIECE_BYTES, their
    rows in INTERVAL_FAN_OUT_BUCKETS meter buckets."""

    interval_pieces_queue_url: str = Field(min_length=1)
    interval_fan_out_bytes: int = Field(ge=0)
    interval_piece_bytes: int = Field(ge=1)
    interval_fan_out_buckets: int = Field(ge=1, le=1000)


class IntervalIngestionSettings(
    JobsTableSettings, IntervalsTableSettings, DataBucketSettings, MetersTableSettings, IntervalFanOutSettings
):
    """Everything an interval ingestion reads and writes: the file's function and the pieces' function both build
    it from these (wiring.interval_fan_out)."""
