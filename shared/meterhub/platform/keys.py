"""Every DynamoDB key format meterhub stores, spelled once.

The formats are stored data: a changed byte orphans the items already written, so each prefix is declared
here and every key is built (or parsed) by the functions below. Partitions start with `PARTNER#<pid>`
wherever an item belongs to a partner: that is the tenant isolation, no key built from another partner's id
reaches this partner's items. The tables' layouts are in the adapters' docstrings (meterhub.<feature>.adapters).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

PARTNER = "PARTNER#"
ACCOUNT = "ACCOUNT#"
API_KEY = "APIKEY#"
METER = "METER#"
REF = "REF#"
CREATED = "CREATED#"
STATUS = "STATUS#"
ACTIONS = "ACTIONS"
REVIEW = "REVIEW#"
MARKET_GROUP = "GROUP#"
MEMBER = "MEMBER#"
GROUP_CHANGES = "GROUPCHANGES#"
JOB = "JOB#"
ASSET = "ASSET#"
UPLOAD = "UPLOAD#"
OBJECT = "OBJECT#"
WORKER_SLOT = "WORKERSLOT#"
DAY = "DAY#"
LENGTH = "LEN#"
WEBHOOK = "WEBHOOK#"
DELIVERY = "DELIVERY#"
SESSION = "SESSION#"
AUTH = "AUTH#"
STATE = "STATE#"
LINK = "LINK#"
ACTIVE = "ACTIVE#"
DEMO_CODE = "DEMO#CODE#"
DEMO_TOKEN = "DEMO#TOKEN#"  # noqa: S105
DEMO_REFRESH = "DEMO#REFRESH#"

# The sort keys of items that are alone in their partition (names of item kinds, not secrets).
PROFILE_SK = "PROFILE"
ACCOUNT_SK = "ACCOUNT"
API_KEY_SK = "APIKEY"
STATE_SK = "STATE"
LINK_SK = "LINK"
DEMO_CODE_SK = "CODE"
DEMO_TOKEN_SK = "TOKEN"  # noqa: S105
DEMO_REFRESH_SK = "REFRESH"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# ----- partners (PartnersTable) and the partner partition of every table ------------------------------------
def partner(partner_id: str) -> str:
    return f"{PARTNER}{partner_id}"


def account(slug: str) -> str:
    return f"{ACCOUNT}{slug}"


def api_key(key_hash_or_id: str) -> str:
    """`APIKEY#<hash>` (the lookup item's partition) or `APIKEY#<key_id>` (the partner's listing item)."""
    return f"{API_KEY}{key_hash_or_id}"


# ----- meters (MetersTable) ---------------------------------------------------------------------------------
def meter(meter_id: str) -> str:
    return f"{METER}{meter_id}"


def reference(partner_reference: str) -> str:
    return f"{REF}{partner_reference}"


def enrollment_status(partner_id: str, status: str) -> str:
    """GSI2 partition of a meter: `PARTNER#<pid>#STATUS#<global enrollment status>` (sorted by GSI1's key)."""
    return f"{partner(partner_id)}#{STATUS}{status}"


def action_required(partner_id: str) -> str:
    """GSI3 partition (sparse): `PARTNER#<pid>#ACTIONS`, only meters with a required action."""
    return f"{partner(partner_id)}#{ACTIONS}"


REVIEW_SHARDS = 10


def review_shard(shard: int) -> str:
    """GSI4 partition (sparse): `REVIEW#<0..9>`, meters spread by id so no partition runs hot."""
    return f"{REVIEW}{shard}"


def review_due(at: datetime, partner_id: str | None = None, meter_id: str | None = None) -> str:
    """GSI4 sort key `<utc review time>#<pid>#<meter_id>`, or without ids a bound: due meters sort first."""
    bound = _utc(at)
    return f"{bound}#{partner_id}#{meter_id}" if partner_id is not None else bound


def market_group(partner_id: str, market_group_id: str, delivery_period: str) -> str:
    """Partition of one market group's members in one delivery period (`MEMBER#<meter_id>` items): the group is
    the partner's, so its members are listed without reading any other partner's keys."""
    return f"{MARKET_GROUP}{partner_id}#{market_group_id}#{delivery_period}"


def member(meter_id: str) -> str:
    """Sort key of a meter in its market group's partition (never `METER#`: stream consumers read those as meters)."""
    return f"{MEMBER}{meter_id}"


GROUP_CHANGE_SHARDS = 10


def group_changes(shard: int) -> str:
    """Partition of the changed-group marks (`GROUPCHANGES#<0..9>`), groups spread by key so none runs hot."""
    return f"{GROUP_CHANGES}{shard}"


def created(at: datetime, meter_id: str | None = None) -> str:
    """GSI1 sort key of a meter (`CREATED#<utc>#<meter_id>`), or without the id a bound of a creation range:
    UTC text, so the keys sort in time order."""
    bound = f"{CREATED}{_utc(at)}"
    return f"{bound}#{meter_id}" if meter_id is not None else bound


# ----- jobs, assets and uploads (JobsTable) -----------------------------------------------------------------
def job(job_id: str) -> str:
    return f"{JOB}{job_id}"


def partner_jobs(partner_id: str) -> str:
    """GSI1 partition of the partner's jobs."""
    return f"{partner(partner_id)}#JOBS"


def job_assets(partner_id: str, job_id: str) -> str:
    """The partition of one job's provisional assets."""
    return f"{partner(partner_id)}#{job(job_id)}"


def asset(index: int) -> str:
    """`ASSET#<index, 7 digits>`: zero-padded so the assets sort in submission order."""
    return f"{ASSET}{index:07d}"


def partner_assets(partner_id: str) -> str:
    """GSI1 partition of the partner's provisional assets across jobs."""
    return f"{partner(partner_id)}#ASSETS"


def upload(job_id: str) -> str:
    return f"{UPLOAD}{job_id}"


def partner_uploads(partner_id: str) -> str:
    """GSI1 partition of the partner's upload jobs."""
    return f"{partner(partner_id)}#UPLOADS"


def object_claim(object_key: str, version: str) -> str:
    """The claim of one S3 object version (`OBJECT#<key>#<version or etag>`)."""
    return f"{OBJECT}{object_key}#{version}"


def worker_slot(slot: int) -> str:
    """One of a partner's interval worker slots (`WORKERSLOT#<nnn>`, in slot order)."""
    return f"{WORKER_SLOT}{slot:03d}"


def file_workers(partner_id: str, job_id: str) -> str:
    """The partition of one upload's own interval worker slots (`worker_slot` sort keys), apart from the
    partner's: `PARTNER#<pid>#UPLOAD#<job_id>`."""
    return f"{partner(partner_id)}#{upload(job_id)}"


# ----- intervals (IntervalsTable) ---------------------------------------------------------------------------
def meter_intervals(partner_id: str, meter_id: str) -> str:
    """The partition of one meter's interval days."""
    return f"{partner(partner_id)}#{meter(meter_id)}"


def day(on: date) -> str:
    return f"{DAY}{on.isoformat()}"


def day_of(sort_key: str) -> date:
    """The date of a `DAY#<YYYY-MM-DD>` sort key."""
    return date.fromisoformat(sort_key.removeprefix(DAY))


def length_day(on: date, length: int | None = None) -> str:
    """`LEN#<YYYY-MM-DD>#<length, 5 digits>` (intervals.adapters.dynamodb says why this shape); without a length,
    the lower bound of that day's lengths."""
    bound = f"{LENGTH}{on.isoformat()}"
    return f"{bound}#{length:05d}" if length is not None else bound


def length_days_through(last: date) -> str:
    """The upper bound of the length days up to `last`: `~` sorts after the digits of every length."""
    return f"{length_day(last)}#~"


def length_day_of(sort_key: str) -> tuple[date, int]:
    """The (date, length) of a `LEN#` sort key."""
    on, _, length = sort_key.removeprefix(LENGTH).partition("#")
    return date.fromisoformat(on), int(length)


# ----- webhooks (WebhooksTable) -----------------------------------------------------------------------------
def webhook(webhook_id: str) -> str:
    return f"{WEBHOOK}{webhook_id}"


def webhook_log(partner_id: str, webhook_id: str) -> str:
    """The partition of one subscription's delivery log."""
    return f"{partner(partner_id)}#{webhook(webhook_id)}"


def webhook_deliveries(partner_id: str, webhook_id: str) -> str:
    """GSI1 partition of one subscription's deliveries (newest first)."""
    return f"{webhook_log(partner_id, webhook_id)}#DELIVERIES"


def delivery(webhook_event_id: str) -> str:
    return f"{DELIVERY}{webhook_event_id}"


# ----- Connect (ConnectTable) -------------------------------------------------------------------------------
def session(session_id: str) -> str:
    return f"{SESSION}{session_id}"


def authorization(authorization_id: str) -> str:
    return f"{AUTH}{authorization_id}"


def state(state_hash: str) -> str:
    return f"{STATE}{state_hash}"


def link(token_hash: str) -> str:
    return f"{LINK}{token_hash}"


def active_shard(shard: int) -> str:
    """GSI1 partition of one shard of the live (COMPLETED) authorizations."""
    return f"{ACTIVE}{shard}"


def active_authorization(partner_id: str, authorization_id: str) -> str:
    """GSI1 sort key of a live authorization: `<pid>#<authorization_id>`."""
    return f"{partner_id}#{authorization_id}"


def active_authorization_of(sort_key: str) -> tuple[str, str]:
    """The (partner_id, authorization_id) of a live authorization's GSI1 sort key."""
    partner_id, _, authorization_id = sort_key.partition("#")
    return partner_id, authorization_id


def demo_code(code_hash: str) -> str:
    return f"{DEMO_CODE}{code_hash}"


def demo_token(access_hash: str) -> str:
    return f"{DEMO_TOKEN}{access_hash}"


def demo_refresh(refresh_hash: str) -> str:
    return f"{DEMO_REFRESH}{refresh_hash}"
