"""Per-program enrollment: a stored state the rules move forward, by the meter's data and by the clock.

For each program open to the meter (same region, fitting meter type and customer class) the state shows the
delivery periods the meter is enrolled in and the next one it can enroll in, each with a status:

* PENDING: something must happen first. The partner's part is in `required_actions.partner` (missing fields
  NO_MISSING_FIELDS/SERV_0005, a service address ADDRESS/ADDR_0001, a re-authorization IS_AUTHORIZED/AUTH_0001);
  once that is done, the program operator's part (the meter's market registration) is in `required_actions.leap`
  until an operator records it (use_cases.program_steps).
* ELIGIBLE: ready. A meter ready when the period's enrollment deadline passes is committed to the period
  (`enrolled_from`, its activation time) and stays ELIGIBLE until then; one that is not ready at the deadline misses
  the period and is shown for the next one.
* ACTIVE: committed, and the activation time has come; until the period ends. Committed meters are put in the
  program's market group for their utility, zone (catalog `grouping_keys`).
* INELIGIBLE: blocked: of programs that exclude each other (catalog.exclusions) the meter is placed in one (the
  one it is enrolled in, else the first it is ready for), the others show NOT_ENROLLED_IN_CONFLICTING_PROGRAM.
* NOT_PARTICIPATING: an idle period or the disenrollment covers the whole delivery period (rules.participation).

The global status is NOT_PARTICIPATING while an idle period or the disenrollment is in effect (or every program
is), else the best program status: ACTIVE > ELIGIBLE > PENDING > INELIGIBLE; a meter no program accepts is
INELIGIBLE. `participation_preferences` lists PARTICIPATE from creation (until the meter's disenrollment, else
indefinitely), then the idle periods and the disenrollment, in start order.

`evaluate` is pure: the previous state (on the record) is its memory of commitments, `now` its clock, and
`review_at` the next moment the clock alone can change the answer, which is when the scheduled transition run
(use_cases.transitions) evaluates the meter again. Every meter write evaluates it too (use_cases.enrolling), so
the stored state changes only by writes, and every change reaches the meter stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from meterhub.catalog import exclusions
from meterhub.catalog import programs as catalog
from meterhub.catalog.enums import (
    ActionType,
    CustomerClassification,
    EnrollmentStatus,
    MeterType,
    ParticipationPreference,
    ProgramIdentifier,
    TransmissionRegion,
)
from meterhub.meters.api_models.responses import (
    Audit,
    EnrollmentDeadline,
    MeterEnrollmentResponse,
    ParticipationPreferenceEntry,
    ProgramEnrollment,
    RequiredAction,
    RequiredActions,
)
from meterhub.meters.records import (
    EnrollmentAction,
    EnrollmentState,
    MeterRecord,
    NonParticipation,
    PeriodEnrollment,
)
from meterhub.meters.rules.address import awaits_address
from meterhub.meters.rules.participation import not_participating, not_participating_at

MISSING_FIELDS_CODE = "SERV_0005"
REAUTHORIZE_CODE = "AUTH_0001"
REAUTHORIZE_DESCRIPTION = "End customer must re-authorize"
ADDRESS_CODE = "ADDR_0001"
ADDRESS_DESCRIPTION = (
    "Service address missing: the utility sent none. It is added when the utility sends it on a later sync, or "
    "send it yourself: POST /v1.1/meters?update_existing=true with this meter's partner_reference and "
    "customer.street_1, city, state_or_province_code and postal_code."
)
# Leap publishes no code for these actions; ours, in the style of its published ones.
CONFLICTING_PROGRAM_CODE = "PROG_0001"
OPERATOR_STEP_CODES = {ActionType.HAS_MARKET_REGISTRATION: "LEAP_0002"}
OPERATOR_STEP_DESCRIPTIONS = {
    ActionType.HAS_MARKET_REGISTRATION: "The program operator registers the meter with the market operator "
    "(this can take up to two weeks); nothing to do on the partner's side."
}
INDEFINITELY = datetime(9000, 1, 1, tzinfo=UTC)
# Any fixed uuid: market group ids are uuid5s of the program and the grouping values under it.
MARKET_GROUP_NAMESPACE = UUID("0c3b7d55-8a0e-4f4e-9a57-5d2f3c1b7e64")
UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True)
class _Facts:
    """What the meter's data and `now` say, shared by every program's evaluation."""

    meter: MeterRecord
    now: datetime
    earlier: list[PeriodEnrollment]  # the previous state's periods that have not ended
    decided_after: datetime  # deadlines after this moment (the previous evaluation) are decided now
    unauthorized: bool
    unlocated: bool
    missing: dict[ProgramIdentifier, list[catalog.RequiredField]]
    operator_steps: dict[ProgramIdentifier, list[ActionType]]
    partner_ready: set[ProgramIdentifier]
    ready: set[ProgramIdentifier]
    placed_in: dict[ProgramIdentifier, ProgramIdentifier]


def evaluate(meter: MeterRecord, now: datetime) -> EnrollmentState:
    """The meter's enrollment at `now`, carrying forward the commitments of its previous state."""
    programs = catalog.programs_for(
        TransmissionRegion(meter.transmission_region),
        MeterType(meter.meter_type),
        CustomerClassification(meter.customer_classification),
        catalog.value_at(meter.data, "utility.utility_name"),
        catalog.value_at(meter.data, "customer.state_or_province_code"),
    )
    facts = _facts(meter, programs, now)
    periods: list[PeriodEnrollment] = []
    partner_actions: list[EnrollmentAction] = []
    leap_actions: list[EnrollmentAction] = []
    for program in programs:
        # The next period whose deadline is still ahead: one whose deadline is `now` is decided, not open.
        upcoming = catalog.next_delivery_period(program, now + _INSTANT, meter.data["load_types"])
        periods.extend(_periods(program, upcoming, facts))
        partner, leap = _actions(program, upcoming, facts)
        partner_actions.extend(partner)
        leap_actions.extend(leap)
    statuses = [EnrollmentStatus(p.status) for p in periods]
    return EnrollmentState(
        evaluated_at=now,
        global_status=(
            EnrollmentStatus.NOT_PARTICIPATING
            if not_participating_at(meter.non_participation, now)
            else _global_status(statuses)
        ),
        periods=periods,
        partner_actions=partner_actions,
        leap_actions=leap_actions,
        review_at=_review_at(meter, periods, now),
    )


def _facts(meter: MeterRecord, programs: list[catalog.Program], now: datetime) -> _Facts:
    previous = meter.enrollment
    earlier = [p for p in previous.periods if p.end > now] if previous is not None else []
    load_types = meter.data["load_types"]
    unauthorized = meter.utility_link is not None and not meter.utility_link.is_active(now)
    unlocated = awaits_address(meter.data)
    done = {(step.program_identifier, step.action_type) for step in meter.program_steps}
    missing = {
        program.program_identifier: catalog.unmet(catalog.enrollment_fields_for(program, load_types), meter.data)
        for program in programs
    }
    operator_steps = {
        program.program_identifier: [s for s in program.operator_steps if (program.program_identifier, s) not in done]
        for program in programs
    }
    partner_ready = {identifier for identifier, gaps in missing.items() if not (gaps or unauthorized or unlocated)}
    enrolled = {ProgramIdentifier(p.program_identifier) for p in earlier if p.enrolled_from is not None}
    return _Facts(
        meter=meter,
        now=now,
        earlier=earlier,
        decided_after=previous.evaluated_at if previous is not None else now,
        unauthorized=unauthorized,
        unlocated=unlocated,
        missing=missing,
        operator_steps=operator_steps,
        partner_ready=partner_ready,
        ready={identifier for identifier in partner_ready if not operator_steps[identifier]},
        # Placement follows the partner's side: the operator registers the meter in the program it is placed in.
        placed_in=exclusions.placements(list(missing), partner_ready, enrolled),
    )


def _periods(program: catalog.Program, upcoming: catalog.DeliveryPeriod, facts: _Facts) -> list[PeriodEnrollment]:
    """The periods the meter is committed to (deciding the deadlines passed since the last evaluation), and the
    next one it can enroll in."""
    identifier = program.program_identifier
    conflicting = identifier in facts.placed_in
    shown: dict[str, PeriodEnrollment] = {}
    for period in facts.earlier:
        if period.program_identifier != identifier:
            continue
        deadline_passed = period.enrolled_from is None and facts.decided_after < period.deadline <= facts.now
        if deadline_passed and identifier in facts.ready and not conflicting and not _idle_through(facts.meter, period):
            period = period.model_copy(update={"enrolled_from": period.activation})
        if period.enrolled_from is not None:
            shown[period.delivery_period] = period
    if upcoming.identifier not in shown:
        shown[upcoming.identifier] = PeriodEnrollment(
            program_identifier=identifier,
            delivery_period=upcoming.identifier,
            start=upcoming.start,
            end=upcoming.end,
            deadline=upcoming.enrollment_deadline,
            activation=upcoming.start,
            status=EnrollmentStatus.PENDING,
        )
    result: list[PeriodEnrollment] = []
    for period in sorted(shown.values(), key=lambda p: p.start):
        status = _status(facts.meter, period, facts.now, conflicting, identifier in facts.ready)
        group = _market_group(program, facts.meter) if period.enrolled_from is not None and status in _GROUPED else None
        result.append(
            period.model_copy(
                update={
                    "status": status,
                    "market_group_id": group[0] if group else None,
                    "market_group_name": group[1] if group else None,
                }
            )
        )
    return result


def _actions(
    program: catalog.Program, upcoming: catalog.DeliveryPeriod, facts: _Facts
) -> tuple[list[EnrollmentAction], list[EnrollmentAction]]:
    """What the partner, then the operator, must do before the meter can be enrolled in the next period."""
    identifier = program.program_identifier

    def action(action_type: ActionType, code: str, description: str) -> EnrollmentAction:
        return EnrollmentAction(
            program_identifier=identifier,
            delivery_period=upcoming.identifier,
            enrollment_deadline=upcoming.enrollment_deadline,
            action_type=action_type,
            action_code=code,
            action_description=description,
        )

    conflicting = facts.placed_in.get(identifier)
    if conflicting is not None:
        # Nothing else to ask for a program the meter is not placed in: only the conflict blocks it.
        description = (
            f"The meter is placed in the conflicting program {conflicting}; "
            f"one meter cannot be in {identifier} as well."
        )
        return [action(ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM, CONFLICTING_PROGRAM_CODE, description)], []
    partner: list[EnrollmentAction] = []
    if facts.unauthorized:
        # The utility no longer shares this meter's data (authorization revoked or expired): the meter
        # stays, but cannot be enrolled until the customer authorizes again through a Connect link.
        partner.append(action(ActionType.IS_AUTHORIZED, REAUTHORIZE_CODE, REAUTHORIZE_DESCRIPTION))
    if facts.unlocated:
        partner.append(action(ActionType.ADDRESS, ADDRESS_CODE, ADDRESS_DESCRIPTION))
    missing = facts.missing[identifier]
    if missing:
        names = ", ".join(f"{field.label} ({field.path})" for field in missing)
        description = f"Missing fields: {names}. Update the meter with update_existing=true."
        partner.append(action(ActionType.NO_MISSING_FIELDS, MISSING_FIELDS_CODE, description))
    # The operator's part starts once the partner's is done: registering an incomplete meter is wasted work.
    leap = (
        [
            action(step, OPERATOR_STEP_CODES[step], OPERATOR_STEP_DESCRIPTIONS[step])
            for step in facts.operator_steps[identifier]
        ]
        if identifier in facts.partner_ready
        else []
    )
    return partner, leap


_INSTANT = timedelta(microseconds=1)
_GROUPED = (EnrollmentStatus.ELIGIBLE, EnrollmentStatus.ACTIVE)


def _idle_through(meter: MeterRecord, period: PeriodEnrollment) -> bool:
    return not_participating(meter.non_participation, period.start, period.end)


def _status(
    meter: MeterRecord, period: PeriodEnrollment, now: datetime, conflicting: bool, ready: bool
) -> EnrollmentStatus:
    if _idle_through(meter, period):
        return EnrollmentStatus.NOT_PARTICIPATING
    if period.enrolled_from is not None:
        return EnrollmentStatus.ACTIVE if now >= period.enrolled_from else EnrollmentStatus.ELIGIBLE
    if conflicting:
        return EnrollmentStatus.INELIGIBLE
    return EnrollmentStatus.ELIGIBLE if ready else EnrollmentStatus.PENDING


def _market_group(program: catalog.Program, meter: MeterRecord) -> tuple[str, str]:
    """The program's group for meters with this meter's grouping values: a stable id, a readable name."""
    values = [str(catalog.value_at(meter.data, path) or UNSPECIFIED) for path in program.grouping_keys]
    name = "_".join([program.program_identifier.value, *values]).upper().replace(" ", "-")
    return str(uuid.uuid5(MARKET_GROUP_NAMESPACE, name)), name


def _review_at(meter: MeterRecord, periods: list[PeriodEnrollment], now: datetime) -> datetime:
    """The next moment the clock alone changes the state: a deadline still to be decided, an activation, a
    period's end, an idle period's or the disenrollment's edge, the utility authorization's expiry."""
    moments: list[datetime] = []
    for period in periods:
        moments.append(period.end)
        if period.enrolled_from is None:
            moments.append(period.deadline)
        else:
            moments.append(period.enrolled_from)
    for np in meter.non_participation:
        moments.append(np.start_time)
        if np.end_time is not None:
            moments.append(np.end_time)
    if meter.utility_link is not None and meter.utility_link.expires_at is not None:
        moments.append(meter.utility_link.expires_at)
    future = [moment for moment in moments if moment > now]
    return min(future, default=now + timedelta(days=1))


def current_state(meter: MeterRecord, now: datetime) -> EnrollmentState:
    """The stored state; a meter stored before enrollment was kept (or by a writer that does not evaluate)
    is evaluated on the spot."""
    return meter.enrollment if meter.enrollment is not None else evaluate(meter, now)


def derive_enrollment(meter: MeterRecord, now: datetime) -> MeterEnrollmentResponse:
    """The enrollment the rules give at `now` (evaluated, not read from storage)."""
    return enrollment_response(meter, evaluate(meter, now))


def enrollment_response(meter: MeterRecord, state: EnrollmentState) -> MeterEnrollmentResponse:
    return MeterEnrollmentResponse(
        meter_id=UUID(meter.meter_id),
        partner_reference=meter.partner_reference,
        transmission_region=TransmissionRegion(meter.transmission_region),
        customer_classification=CustomerClassification(meter.customer_classification),
        meter_type=MeterType(meter.meter_type),
        load_types=meter.data["load_types"],
        customer_group=meter.data.get("customer_group"),
        connection_references=meter.connection_references,
        tags=meter.tags,
        is_archived=meter.is_archived,
        audit=Audit(created_by=meter.created_by, created_at=meter.created_at, updated_at=meter.updated_at),
        global_enrollment_status=EnrollmentStatus(state.global_status),
        participation_preferences=participation_preferences(meter),
        program_enrollment=[
            ProgramEnrollment(
                program_identifier=ProgramIdentifier(period.program_identifier),
                delivery_period=period.delivery_period,
                delivery_period_start_date_time=period.start,
                delivery_period_end_date_time=period.end,
                enrollment_status=EnrollmentStatus(period.status),
                enrollment_deadlines=[
                    EnrollmentDeadline(
                        enrollment_deadline_date_time=period.deadline, activation_date_time=period.activation
                    )
                ],
                market_group_id=UUID(period.market_group_id) if period.market_group_id else None,
                market_group_name=period.market_group_name,
            )
            for period in state.periods
        ],
        required_actions=RequiredActions(
            partner=[required_action(action) for action in state.partner_actions],
            leap=[required_action(action) for action in state.leap_actions],
        ),
    )


def required_action(action: EnrollmentAction) -> RequiredAction:
    return RequiredAction(
        program_identifier=ProgramIdentifier(action.program_identifier),
        delivery_period=action.delivery_period,
        enrollment_deadline_date_time=action.enrollment_deadline,
        action_type=ActionType(action.action_type),
        action_code=action.action_code,
        action_description=action.action_description,
    )


def participation_preferences(meter: MeterRecord) -> list[ParticipationPreferenceEntry]:
    disenrolled = [p for p in meter.non_participation if p.preference == ParticipationPreference.DISENROLL]
    open_ended = [p.start_time for p in disenrolled if p.end_time is None]
    participate = ParticipationPreferenceEntry(
        participation_preference=ParticipationPreference.PARTICIPATE,
        start_time=meter.created_at,
        end_time=open_ended[0] if open_ended else INDEFINITELY,
    )
    return [participate, *(_entry(period) for period in meter.non_participation)]


def _entry(period: NonParticipation) -> ParticipationPreferenceEntry:
    return ParticipationPreferenceEntry(
        participation_preference=ParticipationPreference(period.preference),
        start_time=period.start_time,
        end_time=period.end_time or INDEFINITELY,
        reason=period.reason,
    )


def _global_status(statuses: list[EnrollmentStatus]) -> EnrollmentStatus:
    if statuses and all(status is EnrollmentStatus.NOT_PARTICIPATING for status in statuses):
        return EnrollmentStatus.NOT_PARTICIPATING
    if EnrollmentStatus.ACTIVE in statuses:
        return EnrollmentStatus.ACTIVE
    if EnrollmentStatus.ELIGIBLE in statuses:
        return EnrollmentStatus.ELIGIBLE
    if EnrollmentStatus.PENDING in statuses:
        return EnrollmentStatus.PENDING
    return EnrollmentStatus.INELIGIBLE
