"""Per-program enrollment, derived from the catalog and the meter's data (nothing stored, nothing stale).

A program open to the meter (same region, fitting meter type and customer class) is ELIGIBLE when the meter
has every field the program needs, else PENDING with a partner required action NO_MISSING_FIELDS/SERV_0005
naming the missing fields. A meter without its service address (see rules.address) is PENDING with the
partner required action ADDRESS/ADDR_0001 (our code: Leap's code list is not public) until the address
arrives. Of programs that exclude each other (catalog.exclusions) the meter is placed in one; the others are
INELIGIBLE with a partner required action NOT_ENROLLED_IN_CONFLICTING_PROGRAM naming the program it is placed
in. The global status is the best program status: ELIGIBLE > PENDING > INELIGIBLE; a meter no
program accepts is INELIGIBLE.

Participation (see rules.participation): a program whose whole next delivery period falls in an idle period or the
meter's disenrollment is NOT_PARTICIPATING, and so is the meter while one covers `now` (or when every program is).
`participation_preferences` lists PARTICIPATE from creation (until the meter's disenrollment, else indefinitely),
then the idle periods and the disenrollment, in start order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from meterhub.catalog import exclusions
from meterhub.catalog import programs as catalog
from meterhub.catalog.enums import (
    ActionType,
    CustomerClassification,
    EnrollmentStatus,
    MeterType,
    ParticipationPreference,
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
from meterhub.meters.records import MeterRecord, NonParticipation
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
# Leap publishes no code for this action; ours, in the style of its published ones.
CONFLICTING_PROGRAM_CODE = "PROG_0001"
INDEFINITELY = datetime(9000, 1, 1, tzinfo=UTC)


def derive_enrollment(meter: MeterRecord, now: datetime) -> MeterEnrollmentResponse:
    programs = catalog.programs_for(
        TransmissionRegion(meter.transmission_region),
        MeterType(meter.meter_type),
        CustomerClassification(meter.customer_classification),
        catalog.value_at(meter.data, "utility.utility_name"),
        catalog.value_at(meter.data, "customer.state_or_province_code"),
    )
    enrollments: list[ProgramEnrollment] = []
    actions: list[RequiredAction] = []
    load_types = meter.data["load_types"]
    unauthorized = meter.utility_link is not None and not meter.utility_link.is_active(now)
    unlocated = awaits_address(meter.data)
    missing_by_program = {
        program.program_identifier: catalog.unmet(catalog.enrollment_fields_for(program, load_types), meter.data)
        for program in programs
    }
    ready = [
        identifier
        for identifier, missing in missing_by_program.items()
        if not missing and not unauthorized and not unlocated
    ]
    placed_in = exclusions.placements(list(missing_by_program), ready)
    for program in programs:
        period = catalog.next_delivery_period(program, now, load_types)
        missing = missing_by_program[program.program_identifier]
        conflicting = placed_in.get(program.program_identifier)
        if not_participating(meter.non_participation, period.start, period.end):
            status = EnrollmentStatus.NOT_PARTICIPATING
        elif conflicting is not None:
            status = EnrollmentStatus.INELIGIBLE
        elif missing or unauthorized or unlocated:
            status = EnrollmentStatus.PENDING
        else:
            status = EnrollmentStatus.ELIGIBLE
        enrollments.append(
            ProgramEnrollment(
                program_identifier=program.program_identifier,
                delivery_period=period.identifier,
                delivery_period_start_date_time=period.start,
                delivery_period_end_date_time=period.end,
                enrollment_status=status,
                enrollment_deadlines=[
                    EnrollmentDeadline(
                        enrollment_deadline_date_time=period.enrollment_deadline, activation_date_time=period.start
                    )
                ],
            )
        )
        wanted: list[tuple[ActionType, str, str]] = []
        if conflicting is not None:
            # Nothing else to ask for a program the meter is not placed in: only the conflict blocks it.
            description = (
                f"The meter is placed in the conflicting program {conflicting}; "
                f"one meter cannot be in {program.program_identifier} as well."
            )
            wanted.append((ActionType.NOT_ENROLLED_IN_CONFLICTING_PROGRAM, CONFLICTING_PROGRAM_CODE, description))
        elif unauthorized:
            # The utility no longer shares this meter's data (authorization revoked or expired): the meter
            # stays, but cannot be enrolled until the customer authorizes again through a Connect link.
            wanted.append((ActionType.IS_AUTHORIZED, REAUTHORIZE_CODE, REAUTHORIZE_DESCRIPTION))
        if unlocated and conflicting is None:
            wanted.append((ActionType.ADDRESS, ADDRESS_CODE, ADDRESS_DESCRIPTION))
        if missing and conflicting is None:
            names = ", ".join(f"{field.label} ({field.path})" for field in missing)
            description = f"Missing fields: {names}. Update the meter with update_existing=true."
            wanted.append((ActionType.NO_MISSING_FIELDS, MISSING_FIELDS_CODE, description))
        actions.extend(
            RequiredAction(
                program_identifier=program.program_identifier,
                delivery_period=period.identifier,
                enrollment_deadline_date_time=period.enrollment_deadline,
                action_type=action_type,
                action_code=code,
                action_description=description,
            )
            for action_type, code, description in wanted
        )
    return MeterEnrollmentResponse(
        meter_id=UUID(meter.meter_id),
        partner_reference=meter.partner_reference,
        transmission_region=TransmissionRegion(meter.transmission_region),
        customer_classification=CustomerClassification(meter.customer_classification),
        meter_type=MeterType(meter.meter_type),
        load_types=meter.data["load_types"],
        tags=meter.tags,
        is_archived=meter.is_archived,
        audit=Audit(created_by=meter.created_by, created_at=meter.created_at, updated_at=meter.updated_at),
        global_enrollment_status=(
            EnrollmentStatus.NOT_PARTICIPATING
            if not_participating_at(meter.non_participation, now)
            else _global_status([e.enrollment_status for e in enrollments])
        ),
        participation_preferences=participation_preferences(meter),
        program_enrollment=enrollments,
        required_actions=RequiredActions(partner=actions),
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
    if EnrollmentStatus.ELIGIBLE in statuses:
        return EnrollmentStatus.ELIGIBLE
    if EnrollmentStatus.PENDING in statuses:
        return EnrollmentStatus.PENDING
    return EnrollmentStatus.INELIGIBLE
