"""The versioned data bucket keeps an object's previous versions, and the staged parts of large files, for a
bounded, documented time, not forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meterhub.intervals.use_cases.fanout import WORK_PREFIX, work_key
from meterhub_dev.local.template_yaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]


def _template() -> dict[str, Any]:
    """template.yaml as the local runner reads it (short tags as their long forms)."""
    return load_yaml(ROOT / "template.yaml")


def test_noncurrent_versions_of_the_data_bucket_expire_after_the_documented_days() -> None:
    template = _template()
    bucket = template["Resources"]["DataBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    expiry = rules["ExpireNoncurrentVersions"]
    assert expiry["Status"] == "Enabled"
    assert expiry["NoncurrentVersionExpiration"]["NoncurrentDays"] == {"Ref": "NoncurrentVersionRetentionDays"}
    parameter = template["Parameters"]["NoncurrentVersionRetentionDays"]
    assert parameter["Default"] == 30 and 1 <= parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "NoncurrentVersionRetentionDays" in readme, "the README says how long previous versions are kept"


def test_the_staged_parts_of_large_files_expire_after_their_tasks_can_no_longer_need_them() -> None:
    template = _template()
    resources = template["Resources"]
    rules = {rule["Id"]: rule for rule in resources["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    scratch = rules["ExpireIntervalWork"]
    assert scratch["Status"] == "Enabled"
    assert scratch["Prefix"] == f"{WORK_PREFIX}/" and work_key("p", "j", "plan.json").startswith(scratch["Prefix"])
    # a task can wait on its queue this long: the staged records it reads must outlive it
    retention = resources["IntervalPiecesQueue"]["Properties"]["MessageRetentionPeriod"]
    assert scratch["ExpirationInDays"] * 86_400 > retention
    assert scratch["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 7
    for function in ("IntervalIngestFunction", "IntervalPiecesFunction"):  # they can write and read it back
        statements = resources[function]["Properties"]["Policies"][0]["Statement"]
        objects = next(s for s in statements if "s3:PutObject" in s["Action"])
        assert {"Fn::Sub": f"${{DataBucket.Arn}}/{WORK_PREFIX}/*"} in objects["Resource"]
        listing = next(s for s in statements if s["Action"] == "s3:ListBucket")  # a missing record reads as 404
        assert f"{WORK_PREFIX}/*" in listing["Condition"]["StringLike"]["s3:prefix"]
