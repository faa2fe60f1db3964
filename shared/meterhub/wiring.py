"""The one place that turns settings into adapters: handlers (and benchmarks) ask here, never build them.

Why: a handler then depends on use cases, api models, platform and this module only, so swapping an adapter
or its construction changes one line here, and tests/contract/test_handler_imports.py holds every handler to
it. Each builder takes the settings part that names its resource (any function's settings model that includes
the part will do) and returns the port the use cases expect. Adapters are cached per resource name by their own
factories, so a warm Lambda environment reuses its clients; `reset` forgets them all (tests).

Each builder imports its adapter when first called: a function's cold start loads the adapters it uses, not
every adapter of the layer (benchmarks/cold_start.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from meterhub.platform.settings import (
    ConnectTableSettings,
    ConnectTokensKeySettings,
    DataBucketSettings,
    IntervalFanOutSettings,
    IntervalFilesQueueSettings,
    IntervalIngestionSettings,
    IntervalsTableSettings,
    JobsTableSettings,
    MeterJobsQueueSettings,
    MetersTableSettings,
    PartnersTableSettings,
    UtilityProviderSettings,
    UtilitySyncQueueSettings,
    WebhookEventsQueueSettings,
    WebhooksTableSettings,
)
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry

if TYPE_CHECKING:
    from meterhub.connect.ports import ConnectRepository, TokenVault
    from meterhub.demo_utility.ports import DemoStore
    from meterhub.intervals.ports import IntervalStore, UploadRepository, WorkerSlots
    from meterhub.intervals.use_cases.fanout import FanOut
    from meterhub.meter_jobs.ports import JobRepository
    from meterhub.meters.ports import GroupMembership, MeterRepository
    from meterhub.partners.ports import PartnerRepository
    from meterhub.platform.object_store import ObjectStore
    from meterhub.platform.work_queue import WorkQueue
    from meterhub.utility_providers.ports import UtilityAdapter
    from meterhub.webhooks.ports import DeliveryLog, HttpPost, WebhookRepository


def partner_repository(settings: PartnersTableSettings) -> PartnerRepository:
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository

    return dynamo_partner_repository(settings.partners_table_name)


def meter_repository(settings: MetersTableSettings, clock: Callable[[], datetime] | None = None) -> MeterRepository:
    """Meters on DynamoDB, each stored with its enrollment evaluated at the write: at `clock()` when given (the
    scheduled run evaluates at its scheduled time), else at the current time."""
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
    from meterhub.meters.use_cases.enrolling import EnrollingMeterRepository

    inner = dynamo_meter_repository(settings.meters_table_name)
    return EnrollingMeterRepository(inner, clock) if clock is not None else EnrollingMeterRepository(inner)


def group_membership(settings: MetersTableSettings) -> GroupMembership:
    """Market-group members and the marks of changed groups, in the meters table."""
    from meterhub.meters.adapters.group_membership import dynamo_group_membership

    return dynamo_group_membership(settings.meters_table_name)


def job_repository(settings: JobsTableSettings) -> JobRepository:
    from meterhub.meter_jobs.adapters.dynamodb import dynamo_job_repository

    return dynamo_job_repository(settings.jobs_table_name)


def upload_repository(settings: JobsTableSettings) -> UploadRepository:
    from meterhub.intervals.adapters.uploads import dynamo_upload_repository

    return dynamo_upload_repository(settings.jobs_table_name)


def interval_worker_slots(settings: JobsTableSettings) -> WorkerSlots:
    from meterhub.intervals.adapters.worker_slots import dynamo_worker_slots

    return dynamo_worker_slots(settings.jobs_table_name)


def interval_store(settings: IntervalsTableSettings) -> IntervalStore:
    from meterhub.intervals.adapters.dynamodb import dynamo_interval_store

    return dynamo_interval_store(settings.intervals_table_name)


def data_objects(settings: DataBucketSettings) -> ObjectStore:
    from meterhub.platform.adapters.s3_object_store import s3_object_store

    return s3_object_store(settings.data_bucket_name)


def _queue(url: str) -> WorkQueue:
    from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue

    return sqs_work_queue(url)


def meter_jobs_queue(settings: MeterJobsQueueSettings) -> WorkQueue:
    return _queue(settings.meter_jobs_queue_url)


def webhook_events_queue(settings: WebhookEventsQueueSettings) -> WorkQueue:
    return _queue(settings.webhook_events_queue_url)


def utility_sync_queue(settings: UtilitySyncQueueSettings) -> WorkQueue:
    return _queue(settings.utility_sync_queue_url)


def interval_pieces_queue(settings: IntervalFanOutSettings) -> WorkQueue:
    return _queue(settings.interval_pieces_queue_url)


def interval_files_queue(settings: IntervalFilesQueueSettings) -> WorkQueue:
    return _queue(settings.interval_files_queue_url)


def interval_fan_out(settings: IntervalIngestionSettings, write_concurrency: int, *, starts_files: bool) -> FanOut:
    """The ingestion and its fan-out. `starts_files`: files over INTERVAL_FAN_OUT_BYTES are handed to the fan-out
    (the file's function); the pieces' function only runs tasks and never starts a file."""
    from meterhub.intervals.use_cases.fanout import with_fan_out
    from meterhub.intervals.use_cases.pipeline import Ingestion

    ingestion = Ingestion(
        uploads=upload_repository(settings),
        intervals=interval_store(settings),
        objects=data_objects(settings),
        meters=meter_repository(settings),
        write_concurrency=write_concurrency,
    )
    return with_fan_out(
        ingestion,
        interval_pieces_queue(settings),
        fan_out_bytes=settings.interval_fan_out_bytes if starts_files else 0,
        piece_bytes=settings.interval_piece_bytes,
        buckets=settings.interval_fan_out_buckets,
    )


def webhook_repository(settings: WebhooksTableSettings) -> WebhookRepository:
    from meterhub.webhooks.adapters.subscriptions import dynamo_webhook_repository

    return dynamo_webhook_repository(settings.webhooks_table_name)


def delivery_log(settings: WebhooksTableSettings) -> DeliveryLog:
    from meterhub.webhooks.adapters.deliveries import dynamo_delivery_log

    return dynamo_delivery_log(settings.webhooks_table_name)


def webhook_retry_delays() -> Sequence[int]:
    """The webhook retry schedule (entry n: seconds before attempt n+1)."""
    from meterhub.webhooks.rules.schedule import RETRY_DELAYS_SECONDS

    return RETRY_DELAYS_SECONDS


def webhook_poster() -> HttpPost:
    """The real HTTP poster of webhook deliveries (pinned to the vetted address, deadline-bounded)."""
    from meterhub.webhooks.adapters.http_delivery import http_client_post

    return http_client_post


def connect_repository(settings: ConnectTableSettings) -> ConnectRepository:
    from meterhub.connect.adapters.dynamodb import dynamo_connect_repository

    return dynamo_connect_repository(settings.connect_table_name)


def token_vault(settings: ConnectTokensKeySettings) -> TokenVault:
    from meterhub.connect.adapters.token_vault import kms_token_vault

    return kms_token_vault(settings.connect_tokens_key_id)


def demo_store(settings: ConnectTableSettings) -> DemoStore:
    from meterhub.demo_utility.adapters.store import dynamo_demo_store

    return dynamo_demo_store(settings.connect_table_name)


def utility_registry(settings: UtilityProviderSettings) -> UtilityRegistry:
    return UtilityRegistry(settings.utility_variables)


def utility_adapter_for(config: UtilityConfig, base_url: str) -> UtilityAdapter:
    """The Connect use cases' adapter factory: the Green Button adapter for a configured utility."""
    from meterhub.utility_providers.adapters.factory import adapter_for

    return adapter_for(config, base_url)


def usage_key(partner_id: str) -> str:
    """The partner's API Gateway key name, which the authorizer hands to the usage plan (fair use)."""
    from meterhub.partners.adapters.usage_plans import usage_key as key

    return key(partner_id)


def reset() -> None:
    """Forget every cached client and adapter (tests: each case starts from the moto stack's state)."""
    from meterhub.connect.adapters.dynamodb import dynamo_connect_repository
    from meterhub.connect.adapters.token_vault import kms_token_vault
    from meterhub.demo_utility.adapters.store import dynamo_demo_store
    from meterhub.intervals.adapters.dynamodb import dynamo_interval_store
    from meterhub.intervals.adapters.uploads import dynamo_upload_repository
    from meterhub.meter_jobs.adapters.dynamodb import dynamo_job_repository
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
    from meterhub.meters.use_cases import create_meter
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
    from meterhub.platform.adapters import clients, idempotency
    from meterhub.platform.adapters.s3_object_store import s3_object_store
    from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
    from meterhub.webhooks.adapters.deliveries import dynamo_delivery_log
    from meterhub.webhooks.adapters.subscriptions import dynamo_webhook_repository

    clients.reset()
    for factory in (
        dynamo_partner_repository,
        dynamo_meter_repository,
        dynamo_job_repository,
        dynamo_upload_repository,
        dynamo_interval_store,
        s3_object_store,
        sqs_work_queue,
        dynamo_webhook_repository,
        dynamo_delivery_log,
        dynamo_connect_repository,
        kms_token_vault,
        dynamo_demo_store,
        idempotency.persistence_layer,
        create_meter.idempotent_create,
    ):
        factory.cache_clear()
