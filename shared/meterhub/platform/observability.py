"""The Powertools logger every function shares, and the business metrics an operator watches (configured
through POWERTOOLS_* variables).

Metrics are CloudWatch embedded-metric-format (EMF) documents printed to stdout: Lambda's log pipeline turns
them into metrics, so recording one costs no AWS call. Use cases and handlers record through `record_metric`
(never through Powertools directly) and each handler is wrapped in `log_metrics`, which prints what its
invocation recorded. Why not Powertools' `Metrics` singleton: it holds one set of dimensions per document, and
our families have their own (a program, an outcome, a utility); here each distinct set of dimensions becomes one
document written by Powertools' EMF provider, and counts are summed first, so a batch of 1,000 assets is one
line per outcome, not 1,000.

Dimensions are low-cardinality by construction: each metric declares the dimension names it takes, and a value
that looks like an id (a UUID, or anything long) is refused, so a partner, meter or job id can never become a
dimension (CloudWatch bills every distinct combination as a metric).

Tracing: the functions do not use X-Ray (`Tracing` is not set in template.yaml). Powertools' Tracer needs
aws-xray-sdk and wrapt in the layer (about 2.5 MB) and patches botocore at every cold start (120-160 ms measured
locally); API Gateway's Latency/IntegrationLatency, Lambda's Duration and these metrics, with the correlation id
in every log line, answer what traces would, at no per-request cost.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Final, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

logger = Logger()

DEFAULT_NAMESPACE = "meterhub"
"""Where metrics go when POWERTOOLS_METRICS_NAMESPACE is not set (tests); template.yaml names one per stage."""


@dataclass(frozen=True)
class Metric:
    """One metric family: its CloudWatch name, unit and the dimensions every data point carries."""

    name: str
    unit: MetricUnit
    dimensions: tuple[str, ...] = ()


# ----- the families (README "Operating it" lists them; template.yaml alarms on some) ----------------------
METERS: Final = Metric("Meters", MetricUnit.Count, ("Outcome",))
"""A create-meter request's outcome (API or batch): created, updated, duplicate, refused (catalog rules)."""
PROGRAM_METERS: Final = Metric("ProgramMeters", MetricUnit.Count, ("Program", "Outcome"))
"""The same outcome once per program the meter falls under (a meter may fall under several, or `none`)."""
METER_JOB_ASSETS: Final = Metric("MeterJobAssets", MetricUnit.Count, ("Outcome",))
"""A batch job's assets by recorded status (COMPLETED, DUPLICATE, FAILED, MULTIPLE_PARTNER_REFERENCE)."""
METER_JOBS: Final = Metric("MeterJobs", MetricUnit.Count, ("Status",))
"""Batch jobs that ended, by final status."""
INTERVAL_ROWS_INGESTED: Final = Metric("IntervalRowsIngested", MetricUnit.Count)
"""Rows of accepted interval files, stored."""
INTERVAL_ROWS_REJECTED: Final = Metric("IntervalRowsRejected", MetricUnit.Count)
"""Invalid rows (their file is refused whole)."""
INTERVAL_FILES: Final = Metric("IntervalFiles", MetricUnit.Count, ("Status",))
"""Interval files that reached a terminal status (COMPLETED, FAILED)."""
INTERVAL_INGEST_LAG: Final = Metric("IntervalIngestLag", MetricUnit.Seconds)
"""From the S3 object's creation (its event time) to its job's terminal status."""
WEBHOOK_DELIVERIES: Final = Metric("WebhookDeliveries", MetricUnit.Count, ("Outcome", "Attempt"))
"""Recorded delivery attempts: delivered, retry_scheduled, failed (the last attempt failed)."""
WEBHOOK_FINAL_FAILURES: Final = Metric("WebhookFinalFailures", MetricUnit.Count)
"""Deliveries that failed their last attempt: the partner never got the event."""
CONNECT_SESSIONS: Final = Metric("ConnectSessions", MetricUnit.Count, ("Outcome", "Utility"))
"""Customers back from their utility: completed or failed, per utility."""
UTILITY_SYNCS: Final = Metric("UtilitySyncs", MetricUnit.Count, ("Status",))
"""Utility sync runs by result (COMPLETED, FAILED, EXPIRED, REVOKED_BY_UTILITY, SKIPPED_...)."""
UTILITY_SYNC_READINGS: Final = Metric("UtilitySyncReadings", MetricUnit.Count)
"""Intervals a utility sync stored."""
AUTHORIZER_DENIALS: Final = Metric("AuthorizerDenials", MetricUnit.Count, ("Reason",))
"""Meters the scheduled enrollment run reached: changed, unchanged (only their review time moved) or skipped."""
ENROLLMENT_TRANSITIONS: Final = Metric("EnrollmentTransitions", MetricUnit.Count, ("Outcome",))
"""Requests the authorizer refused: malformed_token (401) or unknown_key (403). API Gateway caches a decision
per token for a minute, so a client repeating a bad key counts about once a minute."""

MAX_DIMENSION_VALUE = 40
_ID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)

_Dimensions = tuple[tuple[str, str], ...]
_pending: dict[_Dimensions, dict[str, tuple[MetricUnit, list[float]]]] = {}
_lock = threading.Lock()  # the webhook dispatcher posts on threads


def record_metric(metric: Metric, value: float = 1, /, **dimensions: str) -> None:
    """Add a data point, printed when the invocation ends (`log_metrics`). Counts with the same dimensions are
    summed; other units keep each value. Raises ValueError for a dimension the metric does not declare, a missing
    one, or an id-like value: a programming error the unit tests catch."""
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(f"{metric.name} takes dimensions {metric.dimensions}, not {tuple(dimensions)}")
    for name, dimension_value in dimensions.items():
        if not dimension_value or len(dimension_value) > MAX_DIMENSION_VALUE or _ID_LIKE.search(dimension_value):
            raise ValueError(f"{metric.name}: {name} must be a short, low-cardinality value")
    key = tuple(sorted(dimensions.items()))
    with _lock:
        group = _pending.setdefault(key, {})
        _, values = group.setdefault(metric.name, (metric.unit, []))
        if metric.unit is MetricUnit.Count and values:
            values[0] += value
        else:
            values.append(value)


def flush_metrics() -> None:
    """Print one EMF document per distinct set of dimensions recorded so far, and forget them."""
    with _lock:
        groups = dict(_pending)
        _pending.clear()
    for dimensions, metrics in groups.items():
        # Powertools reads POWERTOOLS_METRICS_NAMESPACE; service="": no `service` dimension, the namespace (one per
        # stage) says whose metrics they are.
        document = AmazonCloudWatchEMFProvider(service="")
        document.namespace = document.namespace or DEFAULT_NAMESPACE
        for name, value in dimensions:
            document.add_dimension(name=name, value=value)
        for metric_name, (unit, values) in metrics.items():
            for each in values:
                document.add_metric(name=metric_name, unit=unit, value=each)
        document.flush_metrics()


def clear_metrics() -> None:
    """Forget what was recorded and not printed (tests)."""
    with _lock:
        _pending.clear()


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def log_metrics(handler: _Handler) -> _Handler:
    """Wrap a Lambda handler: what its invocation recorded is printed when it returns or raises."""

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush_metrics()

    wrapper.logs_metrics = True  # type: ignore[attr-defined]  # tests/contract checks every handler has it
    return wrapper  # type: ignore[return-value]
