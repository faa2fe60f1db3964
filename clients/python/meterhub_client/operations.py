"""The API operations the client wraps: operationId -> (method, path template), as openapi.json declares them.

A test (tests/unit/test_client_drift.py, in `make test`) checks this table against openapi.json both ways and
that a `Client` method calls each entry, so a route added to the API cannot be forgotten here: wrap it, or list
it in NOT_WRAPPED with the reason.
"""

from __future__ import annotations

ROUTES: dict[str, tuple[str, str]] = {
    "revokeAuthorization": ("POST", "/v1.1/connect/authorizations/{authorization_id}/revoke"),
    "getConnections": ("GET", "/v1.1/connect/connections"),
    "createConnectLink": ("POST", "/v1.1/connect/links"),
    "disenrollMeter": ("POST", "/v1.1/enrollment/meters/{meter_id}/disenroll"),
    "disenrollMeters": ("POST", "/v1.1/enrollment/meters/disenroll"),
    "idleMeter": ("POST", "/v1.1/enrollment/meters/{meter_id}/idle"),
    "idleMeters": ("POST", "/v1.1/enrollment/meters/idle"),
    "participateMeter": ("POST", "/v1.1/enrollment/meters/{meter_id}/participate"),
    "participateMeters": ("POST", "/v1.1/enrollment/meters/participate"),
    "uploadIntervalData": ("POST", "/v1.1/interval-data"),
    "createIntervalDataUploadUrl": ("POST", "/v1.1/interval-data/upload-url"),
    "listIntervalDataUploads": ("GET", "/v1.1/jobs/interval-data-uploads"),
    "intervalDataFilePreview": ("GET", "/v1.1/jobs/interval-data-uploads/file-preview/{job_id}"),
    "intervalDataPresignedUrl": ("GET", "/v1.1/jobs/interval-data-uploads/presigned-url/{job_id}"),
    "listIntervalDataUploadErrors": ("GET", "/v1.1/jobs/interval-data-uploads/{job_id}"),
    "listMeterBatchJobsFilters": ("GET", "/v1.1/jobs/meter-job-filters"),
    "listMeterBatchJobs": ("GET", "/v1.1/jobs/meters"),
    "createMeterBatchJob": ("POST", "/v1.1/jobs/meters"),
    "getMeterBatchJob": ("GET", "/v1.1/jobs/meters/{job_id}"),
    "createSingleMeter": ("POST", "/v1.1/meters"),
    "unarchiveMeters": ("DELETE", "/v1.1/meters/archive"),
    "archiveMeters": ("POST", "/v1.1/meters/archive"),
    "updatePartnerMeterRefs": ("PATCH", "/v1.1/meters/partner_meter_ref"),
    "removeMeterTags": ("DELETE", "/v1.1/meters/tags"),
    "addMeterTags": ("POST", "/v1.1/meters/tags"),
    "updatePartnerMeterRef": ("PATCH", "/v1.1/meters/{meter_id}/partner_meter_ref"),
    "searchMissingIntervalData": ("POST", "/v1.1/missing-interval-data/search"),
    "listPrograms": ("GET", "/v1.1/programs"),
    "listProvisionalAssets": ("GET", "/v1.1/provisional-assets"),
    "listProvisionalAssetsFilters": ("GET", "/v1.1/provisional-assets-filters"),
    "listWebhooks": ("GET", "/v1.1/webhooks"),
    "createWebhook": ("POST", "/v1.1/webhooks"),
    "deleteWebhook": ("DELETE", "/v1.1/webhooks/{webhook_id}"),
    "updateWebhook": ("PUT", "/v1.1/webhooks/{webhook_id}"),
    "listWebhookDeliveries": ("GET", "/v1.1/webhooks/{webhook_id}/deliveries"),
    "redeliverWebhookEvent": ("POST", "/v1.1/webhooks/{webhook_id}/deliveries/{webhook_event_id}/redeliver"),
    "testWebhook": ("POST", "/v1.1/webhooks/{webhook_id}/test"),
    "searchMeterEnrollments": ("POST", "/v2/meters/enrollments/search"),
    "searchMeterDetails": ("POST", "/v2/meters/search"),
    "getMeterDetails": ("GET", "/v2/meters/{meter_id}"),
    "getMeterEnrollment": ("GET", "/v2/meters/{meter_id}/enrollments"),
    "getMeterIntervals": ("GET", "/v2/meters/{meter_id}/intervals"),
}

NOT_WRAPPED: dict[str, str] = {
    # operationId: why the client leaves it out (none today: every operation has a method).
}
