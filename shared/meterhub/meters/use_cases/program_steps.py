"""The operator's side of enrollment: recording a program-side step done for a meter (its market registration).

Programs list the steps their operator performs for each meter (catalog `operator_steps`); until one is recorded
the meter's enrollment shows it in `required_actions.leap` and the program stays PENDING. Recording is an operator
command (the admin CLI), never a partner route: a partner cannot declare its own meter registered. A step the
meter's program does not have, or a program the meter is not open to, is refused (400); recording a step again
changes nothing.
"""

from __future__ import annotations

from meterhub.catalog import programs as catalog
from meterhub.catalog.enums import ActionType, ProgramIdentifier
from meterhub.meters.ports import MeterRepository
from meterhub.meters.records import MeterRecord, ProgramStep
from meterhub.meters.rules.enrollment import evaluate
from meterhub.meters.use_cases.maintain_meters import Clock, apply_change, utc_now
from meterhub.meters.use_cases.read_meters import load_meter
from meterhub.platform.errors import InvalidInput


def record_program_step(
    repo: MeterRepository,
    partner_id: str,
    meter_id: str,
    program: ProgramIdentifier,
    step: ActionType,
    note: str | None = None,
    now: Clock = utc_now,
) -> MeterRecord:
    """The meter with `step` of `program` recorded, as stored (with its enrollment re-evaluated)."""
    needed = catalog.get_program(program).operator_steps
    if step not in needed:
        allowed = ", ".join(needed) or "none"
        raise InvalidInput(f"{program} has no operator step {step}", {"step": f"{program}'s operator steps: {allowed}"})

    def record(meter: MeterRecord) -> MeterRecord:
        state = meter.enrollment or evaluate(meter, now())
        if program not in {p.program_identifier for p in state.periods}:
            raise InvalidInput(f"The meter is not open to {program}", {"program": "not one of the meter's programs"})
        if any(s.program_identifier == program and s.action_type == step for s in meter.program_steps):
            return meter
        recorded = ProgramStep(program_identifier=program, action_type=step, recorded_at=now(), note=note)
        return meter.model_copy(update={"program_steps": [*meter.program_steps, recorded]})

    apply_change(repo, partner_id, [meter_id], record, now)
    return load_meter(repo, partner_id, meter_id)  # as stored: its enrollment evaluated by the write
