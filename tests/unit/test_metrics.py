"""platform.observability's metrics: what an EMF document holds, how data points are grouped and summed, which
dimensions are refused, and that every handler prints its invocation's metrics (the families themselves are
tested where they are recorded: test_create_meter, test_batch_worker, test_ingest_pipeline, ...)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from meterhub.platform import observability
from meterhub.platform.observability import (
    AUTHORIZER_DENIALS,
    INTERVAL_INGEST_LAG,
    INTERVAL_ROWS_INGESTED,
    METERS,
    WEBHOOK_DELIVERIES,
    Metric,
    log_metrics,
    record_metric,
)

from tests.conftest import ROOT, load_function_module
from tests.emf import LOW_CARDINALITY_DIMENSIONS, EmfCapture, parse_emf, point, totals


def test_counts_with_the_same_dimensions_are_summed_into_one_document_per_dimension_set(
    emf: EmfCapture, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "meterhub-staging")
    for _ in range(1000):
        record_metric(METERS, Outcome="created")
    record_metric(METERS, Outcome="refused")
    record_metric(INTERVAL_ROWS_INGESTED, 96)
    record_metric(INTERVAL_INGEST_LAG, 3.5)
    record_metric(INTERVAL_INGEST_LAG, 61)

    observability.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    # One line per set of dimensions, in CloudWatch's EMF shape, without Powertools' `service` dimension
    assert len(lines) == 3
    created = next(line for line in lines if line.get("Outcome") == "created")
    assert created["_aws"]["CloudWatchMetrics"] == [
        {"Namespace": "meterhub-staging", "Dimensions": [["Outcome"]], "Metrics": [{"Name": "Meters", "Unit": "Count"}]}
    ]
    assert created["Meters"] == [1000.0] and "service" not in created
    # The dimensionless metrics share a document; a lag keeps each value (CloudWatch computes its percentiles)
    [plain] = [line for line in lines if line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]]
    assert (plain["IntervalRowsIngested"], plain["IntervalIngestLag"]) == ([96.0], [3.5, 61.0])
    # And nothing is printed twice
    observability.flush_metrics()
    assert capsys.readouterr().out == ""
    assert emf() == []


def test_without_a_namespace_variable_metrics_go_to_the_default_one(
    emf: EmfCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    record_metric(METERS, Outcome="created")
    [metric] = emf()
    assert metric.namespace == observability.DEFAULT_NAMESPACE


@pytest.mark.parametrize(
    ("metric", "dimensions"),
    [
        (METERS, {}),  # a declared dimension missing
        (METERS, {"Outcome": "created", "Partner": "acme"}),  # one it does not declare
        (INTERVAL_ROWS_INGESTED, {"Status": "COMPLETED"}),
        (METERS, {"Outcome": "3f2c1d7e-6a5b-4c3d-9e8f-0a1b2c3d4e5f"}),  # an id
        (AUTHORIZER_DENIALS, {"Reason": "3F2C1D7E6A5B4C3D9E8F0A1B2C3D4E5F"}),  # an id without dashes
        (METERS, {"Outcome": "x" * (observability.MAX_DIMENSION_VALUE + 1)}),  # too long to be a category
        (METERS, {"Outcome": ""}),
    ],
)
def test_a_dimension_that_is_undeclared_missing_or_id_like_is_refused(
    emf: EmfCapture, metric: Metric, dimensions: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=metric.name):
        record_metric(metric, **dimensions)
    assert emf() == []


def test_every_family_declares_only_low_cardinality_dimensions() -> None:
    families = [value for value in vars(observability).values() if isinstance(value, Metric)]
    assert len(families) == 15
    assert len({family.name for family in families}) == len(families)
    for family in families:
        assert set(family.dimensions) <= LOW_CARDINALITY_DIMENSIONS, family


def test_the_capture_itself_fails_on_an_id_like_or_unknown_dimension() -> None:
    """tests/emf.py checks every document a test reads: it must catch a dimension that slipped past the module."""

    def document(dimensions: dict[str, str]) -> str:
        directive = {
            "Namespace": "meterhub",
            "Dimensions": [list(dimensions)],
            "Metrics": [{"Name": "M", "Unit": "Count"}],
        }
        return json.dumps({"_aws": {"Timestamp": 0, "CloudWatchMetrics": [directive]}, **dimensions, "M": [1.0]})

    assert totals(parse_emf(document({"Outcome": "created"}))) == {point("M", Outcome="created"): 1}
    with pytest.raises(AssertionError):
        parse_emf(document({"Outcome": "0b7e3a52-1f7c-4a51-9a0e-5c6f2d9b8e11"}))
    with pytest.raises(AssertionError):
        parse_emf(document({"PartnerId": "acme"}))


def test_a_handler_prints_what_its_invocation_recorded_even_when_it_raises(emf: EmfCapture) -> None:
    @log_metrics
    def handler(event: dict[str, Any], context: object) -> None:
        record_metric(WEBHOOK_DELIVERIES, Outcome="failed", Attempt="10")
        raise RuntimeError(event["boom"])

    with pytest.raises(RuntimeError):
        handler({"boom": "the receiver is down"}, None)
    assert [(m.name, m.dimensions, m.values) for m in emf.printed()] == [
        ("WebhookDeliveries", {"Outcome": "failed", "Attempt": "10"}, [1.0])
    ]


@pytest.mark.parametrize("app", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "functions").glob("*/app.py")))
def test_every_handler_prints_its_metrics(app: str) -> None:
    handler = load_function_module(app).lambda_handler
    wrapped: Any = handler
    while not getattr(wrapped, "logs_metrics", False) and hasattr(wrapped, "__wrapped__"):
        wrapped = wrapped.__wrapped__
    assert getattr(wrapped, "logs_metrics", False), f"{app}: lambda_handler is not wrapped in log_metrics"
