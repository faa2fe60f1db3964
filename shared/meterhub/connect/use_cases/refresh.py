"""The daily refresh: one UtilitySyncQueue message per live (COMPLETED) authorization.

Why a queue message each rather than syncing here: one slow or failing utility must not hold up the others,
and each sync keeps its own retries and dead-letter queue. The sync itself is idempotent (re-running it changes
nothing but new readings), refreshes the access token, extends the grant's end when the utility does, and marks
the meters of an expired or utility-revoked grant (their required action then asks for a re-authorization).
"""

from __future__ import annotations

from meterhub.connect.ports import ConnectRepository
from meterhub.platform.work_queue import WorkQueue


def queue_refresh(repo: ConnectRepository, sync_queue: WorkQueue) -> int:
    """Queue a sync of every live authorization; returns how many were queued."""
    queued = 0
    for partner_id, authorization_id in repo.active_authorizations():
        sync_queue.send({"partner_id": partner_id, "authorization_id": authorization_id, "reason": "daily"})
        queued += 1
    return queued
