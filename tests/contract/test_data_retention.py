"""The versioned data bucket keeps an object's previous versions for a bounded, documented time, not forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
