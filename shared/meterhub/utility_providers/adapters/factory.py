"""Builds the adapter for a configured utility (wiring: handlers call it, use cases receive the result)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import UtilityError

if TYPE_CHECKING:
    from meterhub.utility_providers.adapters.green_button import HttpClient
from meterhub.utility_providers.adapters.secrets import client_credentials
from meterhub.utility_providers.records.registry import UtilityConfig


def adapter_for(config: UtilityConfig, base_url: str, *, http: HttpClient | None = None) -> UtilityAdapter:
    """The adapter for `config`, with relative (demo) endpoints joined under `base_url`, the API's own public
    base URL. A secret ARN means a confidential client (HTTP Basic); the secret's client_id, when present,
    replaces the configured one. Without any client id the utility is not usable: UtilityError."""
    secret: str | None = None
    if config.client_secret_arn:
        client_id, secret = client_credentials(config.client_secret_arn)
        if client_id:
            config = replace(config, client_id=client_id)
    if not config.client_id:
        raise UtilityError("This utility is not configured (no client id)")
    # Imported here: the pages and the Connect API import this registry for its table, and the adapter (XML
    # parsing, HTTP) would otherwise add to every cold start of functions that never call a utility.
    from meterhub.utility_providers.adapters.green_button import GreenButtonAdapter, default_http_client

    return GreenButtonAdapter(config, base_url, client_secret=secret, http=http or default_http_client())
