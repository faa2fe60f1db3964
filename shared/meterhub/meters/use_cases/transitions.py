"""The scheduled enrollment run: let time move every due meter's enrollment on (deadlines, activations, ends).

Each meter's stored state says when the clock alone next changes it (`review_at`), and the meters are indexed
by it, so a run reads only the meters due, not the fleet. For each it evaluates the stored meter at the run's
time and writes it back on the version it read, so the run is idempotent and safe beside other writers:

* run twice at one time: the second finds nothing due (every review_at moved past it) and writes nothing;
* killed halfway: the meters done are no longer due, the rest still are; the next run does them, and each
  meter's events come from its one write (the stream compares the stored states), never twice;
* a meter written meanwhile (Conflict): that write evaluated it already; it is skipped.

A run stops when `keep_going` says so (the Lambda handler stops well before its timeout); the meters left are
still due and the next run picks them up first (the index is in due order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from meterhub.meters.ports import MeterRepository
from meterhub.meters.rules.enrollment import evaluate
from meterhub.platform.errors import Conflict


@dataclass
class TransitionReport:
    due: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    finished: bool = True

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "due": self.due,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "finished": self.finished,
        }


def run_transitions(
    repo: MeterRepository, now: datetime, keep_going: Callable[[], bool] = lambda: True
) -> TransitionReport:
    """Evaluate every meter due at `now`. `repo` must store enrollment evaluated at `now` (its clock)."""
    report = TransitionReport()
    for partner_id, meter_id in repo.due_for_review(now):
        if not keep_going():
            report.finished = False
            break
        report.due += 1
        meter = repo.get(partner_id, meter_id)
        if meter is None or meter.enrollment is None or meter.enrollment.review_at > now:
            report.skipped += 1  # deleted, or moved on by another write since the index was read
            continue
        state = evaluate(meter, now)
        changed = not state.same_outcome(meter.enrollment.model_copy(update={"review_at": state.review_at}))
        update: dict[str, object] = {"enrollment": state, "version": meter.version + 1}
        if changed:
            update["updated_at"] = now  # the partner's last_modified filter finds the meter whose enrollment moved
        try:
            repo.replace(meter.model_copy(update=update), expected_version=meter.version)
        except Conflict:
            report.skipped += 1
            continue
        if changed:
            report.changed += 1
        else:
            report.unchanged += 1
    return report


def backfill_enrollment(
    repo: MeterRepository, now: datetime, keep_going: Callable[[], bool] = lambda: True
) -> TransitionReport:
    """Store the enrollment of every meter written before it was kept (the migration of an existing stack): until
    then such a meter is evaluated on read but found by no enrollment filter and reviewed by no scheduled run.
    Each is written back on the version read (its enrollment evaluated by `repo`); re-running skips those done."""
    report = TransitionReport()
    for partner_id, meter_id in repo.without_enrollment():
        if not keep_going():
            report.finished = False
            break
        report.due += 1
        meter = repo.get(partner_id, meter_id)
        if meter is None or meter.enrollment is not None:
            report.skipped += 1
            continue
        try:
            repo.replace(meter.model_copy(update={"version": meter.version + 1}), expected_version=meter.version)
        except Conflict:
            report.skipped += 1  # written meanwhile: that write stored its enrollment
            continue
        report.changed += 1
    return report
