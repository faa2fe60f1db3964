"""Utility client secrets from Secrets Manager, cached for a few minutes so a burst of callbacks makes one call."""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING

from meterhub.utility_providers.records.errors import UtilityError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


SECRET_CACHE_SECONDS = 15 * 60  # a rotated client secret is picked up within this time


@lru_cache(maxsize=1)
def _secretsmanager() -> SecretsManagerClient:
    """Created on first use, never at import (see meterhub.platform.adapters.clients for why)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)
    client: SecretsManagerClient = boto3.session.Session().client("secretsmanager", config=config)
    return client


_secret_lock = threading.Lock()


_secret_cache: dict[str, tuple[float, str | None, str]] = {}


def reset_secret_cache() -> None:
    """Forget cached credentials and the client (tests switch endpoints and secrets between cases)."""
    with _secret_lock:
        _secret_cache.clear()
    _secretsmanager.cache_clear()


def client_credentials(secret_arn: str) -> tuple[str | None, str]:
    """(client_id or None, client_secret) from the secret, cached per ARN for SECRET_CACHE_SECONDS.

    The secret is JSON `{"client_id": ..., "client_secret": ...}`, or just the secret as a plain string.
    Failures never include the secret's value or the service's message (it can echo the ARN's content).
    """
    now = time.monotonic()
    with _secret_lock:
        cached = _secret_cache.get(secret_arn)
        if cached is not None and now - cached[0] < SECRET_CACHE_SECONDS:
            return cached[1], cached[2]
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = _secretsmanager().get_secret_value(SecretId=secret_arn).get("SecretString")
    except (ClientError, BotoCoreError):
        raise UtilityError("The utility's client credentials could not be read", retryable=True) from None
    if not raw:
        raise UtilityError("The utility's client credentials are empty")
    client_id: str | None = None
    secret: object = raw
    if raw.lstrip().startswith("{"):
        try:
            document = json.loads(raw)
        except ValueError:
            raise UtilityError("The utility's client credentials are not valid JSON") from None
        client_id = document.get("client_id") if isinstance(document, dict) else None
        secret = document.get("client_secret") if isinstance(document, dict) else None
    if not isinstance(secret, str) or not secret:
        raise UtilityError("The utility's client credentials have no client_secret")
    identifier = client_id if isinstance(client_id, str) and client_id else None
    with _secret_lock:
        _secret_cache[secret_arn] = (now, identifier, secret)
    return identifier, secret
