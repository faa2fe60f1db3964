"""How a utility refuses: errors every adapter raises and every use case handles, with reasons safe to show."""

from __future__ import annotations


class UtilityError(Exception):
    """The utility refused a request or answered something we cannot use.

    `reason` is safe to show a customer and to store (it never contains a token or a code); `retryable`
    tells the sync whether a later attempt may succeed (network errors, 5xx) or not (invalid_grant, 4xx).
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class AuthorizationRevoked(UtilityError):
    """The utility no longer honours the tokens (revoked or expired refresh token): the customer must
    authorize again."""


class AccessTokenRejected(UtilityError):
    """A data request was refused with 401/403: the access token expired or the authorization was revoked.

    Retryable: refresh the tokens and try again; if the refresh raises AuthorizationRevoked, the customer
    must authorize again.
    """
