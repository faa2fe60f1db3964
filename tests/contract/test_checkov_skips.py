"""checkov (`make checkov`, part of `make test`) fails on any finding the template does not fix or explain. These
tests keep the explanations honest: every skip names a check and says why, and what a skip's reason relies on
is really in the template (SSE declared on every queue, the data bucket's access logs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from meterhub_dev.local.template_yaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
MINIMUM_REASON_CHARACTERS = 30


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_yaml(ROOT / "template.yaml")["Resources"]
    return resources


def test_every_checkov_skip_names_one_check_and_gives_its_reason() -> None:
    skips = {
        logical_id: resource["Metadata"]["checkov"]["skip"]
        for logical_id, resource in _resources().items()
        if "checkov" in (resource.get("Metadata") or {})
    }
    assert skips, "template.yaml explains no checkov finding: was the Metadata removed?"
    for logical_id, entries in skips.items():
        ids = [entry.get("id", "") for entry in entries]
        assert all(re.fullmatch(r"CKV_AWS_\d+", check) for check in ids), (logical_id, ids)
        assert len(set(ids)) == len(ids), f"{logical_id} skips a check twice: {ids}"
        for entry in entries:
            reason = str(entry.get("comment") or "")
            assert len(reason) >= MINIMUM_REASON_CHARACTERS, f"{logical_id} skips {entry['id']} without a reason"


def test_every_queue_declares_encryption_at_rest() -> None:
    # CKV_AWS_27 is skipped because SSE-SQS is declared; checkov itself only recognises KMS.
    queues = {k: r["Properties"] for k, r in _resources().items() if r["Type"] == "AWS::SQS::Queue"}
    assert queues
    unencrypted = [
        k for k, p in queues.items() if p.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in p
    ]
    assert not unencrypted, unencrypted


def test_the_data_bucket_logs_its_access_to_the_log_bucket_which_log_delivery_may_write() -> None:
    resources = _resources()
    logging = resources["DataBucket"]["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    statements = resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [delivery] = [s for s in statements if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery["Action"] == "s3:PutObject"
    assert logging["LogFilePrefix"] in str(delivery["Resource"])


def test_make_test_runs_checkov() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [test_target] = [line for line in makefile.splitlines() if line.startswith("test:")]
    assert "checkov" in test_target.split(), test_target
