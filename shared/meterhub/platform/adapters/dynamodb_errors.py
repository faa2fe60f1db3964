"""The single translation point from botocore errors to domain errors."""

from __future__ import annotations

from botocore.exceptions import ClientError

from meterhub.platform.errors import AlreadyExists, StorageUnavailable

_RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    code = error_code(error)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return False


def translate(error: ClientError, *, conflict_title: str = "Already exists") -> Exception:
    """Map a ClientError to the domain error a use case can act on; unknown errors pass through."""
    if is_condition_failure(error):
        return AlreadyExists(conflict_title)
    if error_code(error) in _RETRYABLE:
        return StorageUnavailable("The service is busy, please retry shortly")
    return error
