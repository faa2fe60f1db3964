"""What the client raises. Every refusal of the API is an `ApiError` carrying the status and the parsed body.

The API answers errors in several shapes (README "Errors"), and callers should not have to know which route
answers which: `ApiError.message` reads all of them.

- `{title, status, details}`: the meter, job, interval, Connect and program APIs, and API Gateway's own refusals
  (401, 403, 404, 413, 429) on every route; `details` an object (field -> problem) or a list;
- `{errors: [{field?, description, ...}]}`: a refused `POST /v1.1/meters`;
- `{error, message}`: the webhooks API (Leap's shape);
- `{message, problem_field?, ...}`: a refused provisional-asset listing (Leap's ValidationError);
- a bare JSON string: the 500 of every API but the webhooks one (Leap's);
- `{message}`: API Gateway's default body, when a function fails before it can answer (a 502).
"""

from __future__ import annotations

from typing import Any

import httpx


class MeterhubError(Exception):
    """Anything the client raises on purpose."""


class ApiError(MeterhubError):
    """The API answered a status outside 2xx/3xx. `body` is the decoded JSON (or the text when it is not JSON)."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> {status}: {describe(body)}")

    @property
    def message(self) -> str:
        return describe(self.body)


class ClientError(ApiError):
    """4xx: the request was refused; sending it again unchanged will not help."""


class ServerError(ApiError):
    """5xx: the API failed; a later retry may succeed."""


class JobTimeout(MeterhubError):
    """A job did not reach a final status within the time the caller gave it."""

    def __init__(self, job_id: str, status: str, seconds: float) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(f"job {job_id} is still {status} after {seconds:g} s")


def error_for(response: httpx.Response) -> ApiError:
    """The exception for a refused response (its body read as JSON when it is JSON)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    kind = ServerError if response.status_code >= 500 else ClientError
    return kind(response.status_code, body, response.request.method, response.request.url.path)


def describe(body: Any) -> str:
    """One line for any of the API's error shapes (or the start of a body in none of them)."""
    if not isinstance(body, dict):
        text = str(body).strip()
        return text[:500] if text else "(empty body)"
    if "title" in body:
        return _joined(str(body["title"]), _details(body.get("details")))
    if isinstance(body.get("errors"), list):
        return "; ".join(_item(error) for error in body["errors"]) or "(no errors listed)"
    if "error" in body and "message" in body:
        return f"{body['error']}: {body['message']}"
    if "message" in body:
        field = body.get("problem_field")
        return f"{field}: {body['message']}" if field else str(body["message"])
    return str(body)[:500]


def _details(details: Any) -> str:
    if isinstance(details, dict):
        return "; ".join(f"{name}: {problem}" for name, problem in details.items())
    if isinstance(details, list):
        return "; ".join(_item(item) for item in details)
    return "" if details is None else str(details)


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    text = str(item.get("description") or item.get("message") or item)
    field = item.get("field") or item.get("problem_field")
    return f"{field}: {text}" if field else text


def _joined(title: str, details: str) -> str:
    return f"{title} ({details})" if details else title
