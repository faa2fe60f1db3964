"""Path and query parameter shapes shared by the API functions, declared on the routes so openapi.json carries them.

A shape is either enforced by the route (Powertools refuses the request before the handler runs, answered by the
function's RequestValidationError handler: a 400 naming the parameter in the function's envelope) or only
documented (`json_schema_extra`), where the check that refuses the value stays where it is because its answer is
part of the API: an id is parsed where it is used (Leap's 400 "Meter id is not a UUID", which also accepts the
other spellings `uuid.UUID` reads, or the webhooks API's 404 for any unknown id), and a few routes answer
their 400s in an envelope the route-level refusal does not use.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

PAGE_TOKEN_MAX_LENGTH = 2048
"""Far above any token `page_tokens.encode` issues (a sort key and a 16-character fingerprint, base64): a longer
one can only be forged, and is refused before anything decodes it."""


def uuid_path(description: str) -> Any:
    """A path id documented as `format: uuid` but not refused by the route (see the module docstring)."""
    return Path(description=description, json_schema_extra={"format": "uuid"})


PageToken = Annotated[
    str | None, Query(max_length=PAGE_TOKEN_MAX_LENGTH, description="next_page_token of the previous page")
]
