"""Reading the CloudWatch EMF documents the functions print (platform.observability), as a test sees them.

`EmfCapture` (the `emf` fixture) prints what is still pending, reads stdout and checks every document as
CloudWatch would need it (a namespace, every declared dimension present, a value for every metric) and as the
operator's bill needs it: every dimension is one of the low-cardinality names below and no value looks like an id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from meterhub.platform.observability import flush_metrics

LOW_CARDINALITY_DIMENSIONS = frozenset({"Outcome", "Program", "Status", "Attempt", "Utility", "Reason"})
ID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


@dataclass(frozen=True)
class EmittedMetric:
    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    values: list[float]


def parse_emf(text: str) -> list[EmittedMetric]:
    """Every metric of every EMF document among `text`'s lines (other lines, e.g. log records, are skipped)."""
    found: list[EmittedMetric] = []
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document: dict[str, Any] = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        [dimension_names] = directive["Dimensions"]
        dimensions = {name: document[name] for name in dimension_names}
        for definition in directive["Metrics"]:
            value = document[definition["Name"]]
            values = value if isinstance(value, list) else [value]
            found.append(
                EmittedMetric(directive["Namespace"], definition["Name"], definition["Unit"], dimensions, values)
            )
    for metric in found:
        assert set(metric.dimensions) <= LOW_CARDINALITY_DIMENSIONS, metric
        assert not any(ID_LIKE.search(value) for value in metric.dimensions.values()), metric
    return found


class EmfCapture:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self) -> list[EmittedMetric]:
        """What was printed since the last call, after printing what was still pending."""
        flush_metrics()
        return self.printed()

    def printed(self) -> list[EmittedMetric]:
        """What was printed since the last call, and nothing pending: what a handler's invocation printed."""
        return parse_emf(self._capsys.readouterr().out)

    def totals(self) -> dict[Point, float]:
        """`totals` of what `__call__` returns."""
        return totals(self())


Point = tuple[str, tuple[tuple[str, str], ...]]


def totals(metrics: list[EmittedMetric]) -> dict[Point, float]:
    """(metric name, sorted dimensions) -> the sum of its values."""
    sums: dict[Point, float] = {}
    for metric in metrics:
        key = point(metric.name, **metric.dimensions)
        sums[key] = sums.get(key, 0) + sum(metric.values)
    return sums


def point(name: str, **dimensions: str) -> Point:
    """The key of `EmfCapture.totals` for a metric and its dimensions."""
    return (name, tuple(sorted(dimensions.items())))
