"""Create (or overwrite) one partner meter: the single code path for the API and batch jobs.

Order of checks: the request model has already validated every field; here the program catalog decides
whether the partner may create this meter at all, then the conditional write decides new / duplicate /
update. Missing *program* fields never block creation: they surface later as enrollment required actions.

A meter the utility sync created (Connect) may be overwritten with update_existing=true under its
partner_reference even where partners may not create meters themselves (the customer authorized it already):
that is how a partner supplies what the utility did not send, such as the service address (ADDRESS required
action). The utility's account fields the partner leaves out are kept, as when a sync merges into a partner
meter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlencode

from meterhub.catalog import programs as catalog
from meterhub.catalog.enums import CreatedBy, ProvisionalAssetStatus, StatusDetailName
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import ProvisionalAsset, StatusDetail
from meterhub.meters.ports import MeterRepository, ReferenceTaken
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases.meter_metrics import count_meter
from meterhub.partners.ports import PartnerRepository
from meterhub.platform.adapters.idempotency import persistence_layer
from meterhub.platform.api.field_errors import FieldError
from meterhub.platform.errors import Conflict

UPDATE_ATTEMPTS = 3
IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600
IN_PROGRESS_WAIT_SECONDS = 5.0
"""How long a request waits for another one with its onboarding_token to finish (a create takes well under a
second) before answering 409; never longer than the invocation has left."""


class AssetRejected(Exception):
    """The asset breaks a catalog rule: nothing was stored. Carries every failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.description}" for e in errors))
        self.errors = errors


ConnectLink = Callable[[CreateMeter], str]
"""Names the Connect route (with the partner's account and the asset's refId) in refusals."""


def connect_link(partners: PartnerRepository, partner_id: str) -> ConnectLink:
    """The partner's Connect link for an asset; the account is looked up only when a refusal needs it."""

    def link(asset: CreateMeter) -> str:
        partner = partners.get_partner(partner_id)
        account = partner.account if partner else "<your-account>"
        query = urlencode(
            {"account": account, "transmissionRegion": asset.transmission_region, "refId": asset.partner_reference}
        )
        return f"/connect?{query}"

    return link


def catalog_errors(asset: CreateMeter, connect: ConnectLink, *, authorized: bool = False) -> list[FieldError]:
    """The catalog's rules for partner-created meters, as field errors (empty when the asset may be created).
    `authorized`: the asset overwrites a meter the customer's utility authorization created, so the rule that
    such meters come only from a Connect authorization is met."""
    region, meter_type = asset.transmission_region, asset.meter_type
    if not authorized and catalog.requires_customer_authorization(region, meter_type):
        programs = ", ".join(p.program_identifier for p in catalog.programs_for(region, meter_type))
        return [
            FieldError(
                field="meter_type",
                description=(
                    f"{meter_type} meters in {region} ({programs}) are onboarded only after the customer "
                    f"authorizes their utility: send the customer the Connect link {connect(asset)} "
                    "and the meter is created from the utility's data"
                ),
            )
        ]
    document = asset.model_dump(mode="json", exclude_none=True)
    errors: list[FieldError] = []
    utility = asset.utility.utility_name if asset.utility else None
    for program in catalog.programs_for(region, meter_type, asset.customer_classification, utility):
        for field in catalog.unmet(program.creation_fields, document):
            present = catalog.value_at(document, field.path) is not None
            rule = f"must be {field.rule}" if present and field.rule else "is required"
            errors.append(
                FieldError(field=field.path, description=f"{rule} for {program.program_identifier} ({field.label})")
            )
    return errors


def create_meter(
    repo: MeterRepository,
    partner_id: str,
    asset: CreateMeter,
    *,
    update_existing: bool,
    connect: ConnectLink,
    job_id: str | None = None,
    meter_id: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ProvisionalAsset:
    """`meter_id` lets a caller that may run twice (a redelivered batch job) choose the id: finding the
    reference already taken by that very id means an earlier attempt created the meter."""
    errors = catalog_errors(asset, connect)
    if errors and update_existing and _is_connect_meter(repo, partner_id, asset.partner_reference):
        errors = catalog_errors(asset, connect, authorized=True)
    if errors:
        count_meter(asset, "refused")
        raise AssetRejected(errors)
    data = asset.model_dump(mode="json", exclude_none=True)
    created_at = now()
    record = MeterRecord(
        meter_id=meter_id or str(uuid.uuid4()),
        partner_id=partner_id,
        partner_reference=asset.partner_reference,
        data=data,
        created_at=created_at,
        updated_at=created_at,
    )
    outcome = _Outcome(job_id=job_id or str(uuid.uuid4()), asset=asset, at=created_at)
    try:
        repo.create(record)
    except ReferenceTaken as taken:
        if taken.meter_id == record.meter_id:
            count_meter(asset, "created")
            return outcome.created(record.meter_id)
        if not update_existing:
            count_meter(asset, "duplicate")
            return outcome.duplicate(taken.meter_id)
        updated = outcome.updated(_overwrite(repo, partner_id, asset.partner_reference, data, now))
        count_meter(asset, "updated")
        return updated
    count_meter(asset, "created")
    return outcome.created(record.meter_id)


def _is_connect_meter(repo: MeterRepository, partner_id: str, reference: str) -> bool:
    existing = repo.get_by_reference(partner_id, reference)
    return existing is not None and existing.created_by is CreatedBy.UTILITY


def _overwrite(
    repo: MeterRepository, partner_id: str, reference: str, data: dict[str, Any], now: Callable[[], datetime]
) -> str:
    """Replace the meter's data, keeping its id, creation time and references (optimistic locking). On a meter
    the utility sync created, the utility's account fields fill what the partner left out."""
    for _ in range(UPDATE_ATTEMPTS):
        existing = repo.get_by_reference(partner_id, reference)
        if existing is None:  # the reference guard exists, so the meter must: storage is inconsistent
            raise Conflict("The meter for this partner_reference is being created; retry")
        written = data
        if existing.created_by is CreatedBy.UTILITY and existing.data.get("utility"):
            written = {**data, "utility": {**existing.data["utility"], **(data.get("utility") or {})}}
        replacement = existing.model_copy(
            update={"data": written, "updated_at": now(), "version": existing.version + 1}
        )
        try:
            repo.replace(replacement, expected_version=existing.version)
        except Conflict:
            continue
        return existing.meter_id
    raise Conflict("The meter is being updated concurrently; retry")


@dataclass(frozen=True)
class _Outcome:
    job_id: str
    asset: CreateMeter
    at: datetime

    def _asset(self, status: ProvisionalAssetStatus, detail: StatusDetail, meter_id: str | None) -> ProvisionalAsset:
        return ProvisionalAsset(
            job_id=uuid.UUID(self.job_id),
            partner_reference=self.asset.partner_reference,
            status=status,
            status_detail=detail,
            created_at=self.at,
            meter_id=uuid.UUID(meter_id) if meter_id else None,
            data=self.asset,
        )

    def created(self, meter_id: str) -> ProvisionalAsset:
        detail = StatusDetail(name=StatusDetailName.METER_CREATED, description="A new meter was created.")
        return self._asset(ProvisionalAssetStatus.COMPLETED, detail, meter_id)

    def updated(self, meter_id: str) -> ProvisionalAsset:
        detail = StatusDetail(name=StatusDetailName.METER_UPDATED, description="The existing meter was overwritten.")
        return self._asset(ProvisionalAssetStatus.COMPLETED, detail, meter_id)

    def duplicate(self, existing_meter_id: str) -> ProvisionalAsset:
        detail = StatusDetail(
            name=StatusDetailName.DUPLICATE_REF_ID,
            description=(
                f"Partner reference ID found on meter ID {existing_meter_id}. A unique reference ID is required "
                "(send update_existing=true to overwrite that meter)."
            ),
        )
        return self._asset(ProvisionalAssetStatus.DUPLICATE, detail, None)


# ----- onboarding_token idempotency ------------------------------------------------------------------------
class IdempotentCreate:
    """`create_meter` keyed by (partner, onboarding_token) and checked against the request payload.

    Powertools stores the first result; a replay with the same payload returns it, a different payload is a
    Conflict. A replay that arrives while the first is still running waits for it and then returns its answer
    (a client that retries impatiently, or sends the same request twice at once, gets one meter either way);
    only a first request still running after `IN_PROGRESS_WAIT_SECONDS` makes it a 409. Powertools'
    idempotency module imports boto3, so it is loaded on first use, not at cold start.
    """

    def __init__(self, table_name: str) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
            PydanticSerializer,
        )

        self.config = IdempotencyConfig(
            event_key_jmespath="[partner_id, onboarding_token]",
            payload_validation_jmespath="payload",
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        )
        self._run = idempotent_function(
            data_keyword_argument="request",
            config=self.config,
            persistence_store=persistence_layer(table_name),
            output_serializer=PydanticSerializer(model=ProvisionalAsset),
        )(self._create)

    @staticmethod
    def _create(*, request: dict[str, Any], repo: MeterRepository, connect: ConnectLink) -> ProvisionalAsset:
        asset = CreateMeter.model_validate(request["payload"]["asset"])
        return create_meter(
            repo, request["partner_id"], asset, update_existing=request["payload"]["update_existing"], connect=connect
        )

    def __call__(
        self,
        *,
        partner_id: str,
        onboarding_token: str,
        asset: CreateMeter,
        update_existing: bool,
        repo: MeterRepository,
        connect: ConnectLink,
        lambda_context: Any = None,
    ) -> ProvisionalAsset:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        if lambda_context is not None:
            # An interrupted request's lock then expires with the invocation, not after the whole TTL.
            self.config.register_lambda_context(lambda_context)
        payload = {"asset": asset.model_dump(mode="json", exclude_none=True), "update_existing": update_existing}
        request = {"partner_id": partner_id, "onboarding_token": onboarding_token, "payload": payload}
        wait = IN_PROGRESS_WAIT_SECONDS
        if lambda_context is not None:
            wait = min(wait, lambda_context.get_remaining_time_in_millis() / 1000 - 1)
        deadline = time.monotonic() + wait
        pause = 0.05
        while True:
            try:
                return cast(ProvisionalAsset, self._run(request=request, repo=repo, connect=connect))
            except IdempotencyValidationError:
                raise Conflict(
                    "onboarding_token was already used with a different request", {"field": "onboarding_token"}
                ) from None
            except IdempotencyAlreadyInProgressError:
                if time.monotonic() + pause > deadline:
                    raise Conflict(
                        "A request with this onboarding_token is still in progress", {"field": "onboarding_token"}
                    ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


@lru_cache(maxsize=4)
def idempotent_create(table_name: str) -> IdempotentCreate:
    return IdempotentCreate(table_name)
