"""API Gateway TOKEN authorizer: `Authorization: Bearer <key>` -> the partner id handlers receive.

A malformed header raises "Unauthorized" (API Gateway answers 401); an unknown or revoked key gets a Deny
policy (403). The policy covers the whole API so API Gateway can cache it per key for a minute. An allowed
request names the partner's API Gateway key (`usageIdentifierKey`), which the partners' usage plan
throttles: fair use is per partner (meterhub.partners.adapters.usage_plans).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.partners.use_cases import authenticate
from meterhub.platform.errors import Forbidden, Unauthenticated
from meterhub.platform.observability import AUTHORIZER_DENIALS, log_metrics, logger, record_metric
from meterhub.platform.settings import PartnersTableSettings


class Settings(PartnersTableSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


@logger.inject_lambda_context(clear_state=True)
@log_metrics
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id="anonymous",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
    )
    try:
        partner_id = authenticate(wiring.partner_repository(Settings.load()), event.authorization_token)
    except Unauthenticated:
        logger.info("Rejected a request without a well-formed bearer token")
        record_metric(AUTHORIZER_DENIALS, Reason="malformed_token")
        raise Exception("Unauthorized") from None
    except Forbidden:
        logger.info("Denied a request with an unknown or revoked API key")
        record_metric(AUTHORIZER_DENIALS, Reason="unknown_key")
        policy.deny_all_routes()
        return policy.asdict()
    policy.principal_id = partner_id
    policy.context = {"partner_id": partner_id}
    policy.usage_identifier_key = wiring.usage_key(partner_id)
    policy.allow_all_routes()
    logger.append_keys(partner_id=partner_id)
    return policy.asdict()
