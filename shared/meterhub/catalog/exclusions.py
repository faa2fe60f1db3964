"""Programs that exclude each other for one meter, and which of them a meter is placed in.

A meter can deliver the same load reduction to one buyer only, so some programs open to the same meter exclude
each other. Each group below lists them in our default placement order (committed capacity first, emergency-only
programs last); enrollment places a meter in the first program of the group it is ready for (every field met,
authorization active), else in the first one open to it, and shows the others as blocked by a conflicting
program. Leap's meter data carries no per-program partner preference (its participation preference is
PARTICIPATE / IDLE / DISENROLL for the whole meter), so the default order is the only order.

Not every pair of programs in one region conflicts: Con Edison and PSEG Long Island allow their CSRP and DLRP
customers to take part in NYISO's SCR as well, and CPS is earned on top of ConnectedSolutions (the
`isone.in_connected_solutions` flag exists for that). Those programs therefore form no group. A group of programs
that never share a meter in practice (a CT-only program and Eversource's MA customers) costs nothing: placement
only ever compares the programs open to one meter.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from meterhub.catalog import sources as src
from meterhub.catalog.enums import ProgramIdentifier


class ExclusionGroup(BaseModel):
    """Programs no single meter may be in together, in default placement order."""

    model_config = ConfigDict(frozen=True)

    programs: tuple[ProgramIdentifier, ...] = Field(min_length=2, description="In default placement order")
    reason: str
    sources: tuple[str, ...] = Field(min_length=1)


EXCLUSIONS: tuple[ExclusionGroup, ...] = (
    ExclusionGroup(
        programs=(
            ProgramIdentifier.DRAM,
            ProgramIdentifier.CCA,
            ProgramIdentifier.PGE_CBP,
            ProgramIdentifier.ENERGY_ONLY,
            ProgramIdentifier.ELRP,
        ),
        reason="a CAISO location belongs to one demand response registration at a time, and ELRP takes no "
        "customer already in another supply-side demand response program",
        sources=(src.CAISO_DR_BPM, src.CPUC_ELRP_DECISION, src.PGE_CBP_SCHEDULE),
    ),
    # Oncor pays for curtailable load no other demand response program counts; ERS (the ISO's, open to every ERCOT
    # meter) comes first, so a commercial Oncor meter already offered to ERS keeps that placement.
    ExclusionGroup(
        programs=(ProgramIdentifier.ERCOT_ERS, ProgramIdentifier.ONCOR_CLM),
        reason="Oncor's Commercial Load Management takes only curtailable load that is not counted in any other "
        "curtailable load or demand response program",
        sources=(src.ONCOR_CLM,),
    ),
    # DSGS pays for no reduction another utility or state program pays for, and an A.4 battery is paid by ELRP for
    # the same emergency discharge. DSGS comes first: committed season-long, where ELRP is emergency-only.
    ExclusionGroup(
        programs=(ProgramIdentifier.CEC_DSGS, ProgramIdentifier.CAISO_ELRP_A4),
        reason="a DSGS participant may not be paid for the same load reduction through another utility or state "
        "program, and ELRP A.4 pays for the battery's discharge in the same grid emergencies",
        sources=(src.CEC_DSGS_ELIGIBILITY, src.CEC_DSGS_GUIDELINES, src.CPUC_ELRP_PHASE_II),
    ),
    # Eversource has a Connecticut battery choose between its two programs. ConnectedSolutions comes first because it
    # also takes thermostats, which ESS never does: a thermostat is never shown as blocked by ESS.
    ExclusionGroup(
        programs=(ProgramIdentifier.EVERSOURCE_CS, ProgramIdentifier.CT_GB_ESS),
        reason="Eversource offers a Connecticut home battery a choice between Energy Storage Solutions and "
        "ConnectedSolutions Demand Response, which both pay for the battery's discharge in their events",
        sources=(src.EVERSOURCE_CT_BATTERY_OPTIONS, src.CT_ESS_PROGRAM),
    ),
)


@cache
def _group_of() -> dict[ProgramIdentifier, ExclusionGroup]:
    return {program: group for group in EXCLUSIONS for program in group.programs}


def placements(
    open_programs: Sequence[ProgramIdentifier],
    ready: Collection[ProgramIdentifier],
    enrolled: Collection[ProgramIdentifier] = (),
) -> dict[ProgramIdentifier, ProgramIdentifier]:
    """Each open program the meter cannot be in, mapped to the conflicting program it is placed in instead.

    A meter already enrolled in one program of a group stays there (moving it would break a commitment made at a
    deadline); otherwise it goes to the first program of the group it is ready for, else the first one open."""
    by_group: dict[ExclusionGroup, list[ProgramIdentifier]] = {}
    for program in open_programs:
        group = _group_of().get(program)
        if group is not None:
            by_group.setdefault(group, []).append(program)
    blocked: dict[ProgramIdentifier, ProgramIdentifier] = {}
    for group, members in by_group.items():
        ordered = sorted(members, key=group.programs.index)
        placed = next((p for p in ordered if p in enrolled), None)
        placed = placed or next((p for p in ordered if p in ready), ordered[0])
        blocked.update({p: placed for p in ordered if p != placed})
    return blocked
