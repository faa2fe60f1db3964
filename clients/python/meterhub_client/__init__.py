"""meterhub-client: the meterhub partner API over HTTP (httpx), and the `meterhub` command line on it."""

from meterhub_client.client import MAX_DIRECT_UPLOAD_BYTES, Client, paginate
from meterhub_client.errors import ApiError, ClientError, JobTimeout, MeterhubError, ServerError
from meterhub_client.results import MeterJobResult, UploadResult
from meterhub_client.signatures import is_test_delivery, verify_signature

__all__ = [
    "MAX_DIRECT_UPLOAD_BYTES",
    "ApiError",
    "Client",
    "ClientError",
    "JobTimeout",
    "MeterJobResult",
    "MeterhubError",
    "ServerError",
    "UploadResult",
    "is_test_delivery",
    "paginate",
    "verify_signature",
]
