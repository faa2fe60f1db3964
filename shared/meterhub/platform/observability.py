"""The Powertools singletons every function shares (configured through POWERTOOLS_* variables)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()
