"""Fair use: each partner's API Gateway API key, a member of the partners' usage plan (template.yaml,
PartnerUsagePlan), so API Gateway throttles every partner on its own.

The API's key source is AUTHORIZER: partners send only their meterhub key (`Authorization: Bearer ...`), the
authorizer returns `usage_key(partner_id)` as `usageIdentifierKey`, and API Gateway meters the request
against the API Gateway key with that value. One key per partner, not per meterhub key, so all of a
partner's keys share one allowance. Its value is derived from the partner id rather than random: it is no
secret (API Gateway reads it only from the authorizer, never from a request header), and the authorizer can
name it without a lookup. A partner whose key is not in the plan gets 403 (INVALID_API_KEY) on every
metered route, so `python -m meterhub_dev.admin` adds it whenever it creates a partner or issues a key
(`enable-usage` does it alone, for partners created before fair use existed).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

USAGE_KEY_PREFIX = "meterhub-partner-"


def usage_key(partner_id: str) -> str:
    """The name and value of a partner's API Gateway key (API Gateway wants values of 20+ characters)."""
    return f"{USAGE_KEY_PREFIX}{partner_id}"


def enable_usage(apigateway: Any, usage_plan_id: str, partner_id: str) -> str:
    """Create the partner's API Gateway key if it does not exist and add it to the plan; returns the key id.
    Safe to repeat: an existing key is reused, and a key already in the plan stays there. (`apigateway` is a
    boto3 client; the project carries no type stubs for it.)"""
    name = usage_key(partner_id)
    found = [
        item
        for item in apigateway.get_api_keys(nameQuery=name, includeValues=True, limit=500).get("items", [])
        if item.get("name") == name
    ]
    if found:
        key_id = str(found[0]["id"])
    else:
        created = apigateway.create_api_key(
            name=name, value=name, enabled=True, description=f"meterhub partner {partner_id} (fair-use throttling)"
        )
        key_id = str(created["id"])
    try:
        apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key_id, keyType="API_KEY")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConflictException":  # Conflict: already in the plan
            raise
    return key_id
