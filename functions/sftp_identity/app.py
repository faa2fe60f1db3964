"""AWS Transfer Family custom identity provider: SFTP username (partner account) + password (API key) -> home.

Transfer Family calls this with `{username, password, protocol, serverId, sourceIp}` and reads the answer: a
Role, a LOGICAL home directory mapping `/interval-data` to the partner's drop folder, and a session Policy
that narrows the role to that folder (meterhub.intervals.rules.sftp_home). An empty answer is Transfer
Family's "access denied". The password is never logged, nor the username of a refused login (a partner who
pastes the key into the wrong field must not find it in the logs).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.transfer_family_event import (
    TransferFamilyAuthorizer,
    TransferFamilyAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.intervals.use_cases.sftp_login import sftp_login
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import DataBucketSettings, PartnersTableSettings, SftpUserRoleSettings

DENIED: dict[str, Any] = {}
"""Transfer Family's documented deny: a response without a Role."""


class Settings(PartnersTableSettings, DataBucketSettings, SftpUserRoleSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


@logger.inject_lambda_context(clear_state=True)
@log_metrics
@event_source(data_class=TransferFamilyAuthorizer)
def lambda_handler(event: TransferFamilyAuthorizer, context: LambdaContext) -> dict[str, Any]:
    if event.get("protocol") != "SFTP":
        logger.info("Denied a login over another protocol", extra={"protocol": event.get("protocol")})
        return DENIED
    settings = Settings.load()
    home = sftp_login(
        wiring.partner_repository(settings),
        settings.data_bucket_name,
        str(event.get("username") or ""),
        event.get("password"),
    )
    if home is None:
        logger.info("Denied an SFTP login", extra={"source_ip": event.get("sourceIp")})
        return DENIED
    logger.append_keys(partner_id=home.partner_id)
    logger.info("Allowed an SFTP login", extra={"source_ip": event.get("sourceIp")})
    return TransferFamilyAuthorizerResponse().build_authentication_response_s3(
        role_arn=settings.sftp_user_role_arn,
        policy=json.dumps(home.policy, separators=(",", ":")),
        home_directory_details=home.mappings,
        home_directory_type="LOGICAL",
    )
