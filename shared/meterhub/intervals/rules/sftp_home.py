"""What an SFTP login may see and do: the partner's drop folder as `/interval-data`, list, upload and read back.

AWS Transfer Family reads these from the identity provider's answer: a LOGICAL home directory whose one entry
maps `/interval-data` to the partner's drop folder in the data bucket (so the partner never sees the bucket,
the `partners/` prefix or its own id), and a session policy that narrows the server's user role to that folder.
The local runner's SFTP server enforces the same two documents (meterhub_dev.local.sftp), so what works
locally is what the deployed policy allows.

Why the policy, when the mapping already hides everything else: the mapping is a view, the policy is the
permission. The role is shared by every partner (its resources are `partners/*/interval-data/*`); only the
session policy ties one login to one partner's folder. No statement grants s3:DeleteObject, so delete and
rename (a copy and a delete) are refused; puts under `accepted/` and `failed/` are denied because those are the
pipeline's outputs, which partners read but must not forge.
"""

from __future__ import annotations

from typing import Any

from meterhub.intervals.rules.paths import DROP_FOLDER, OUTCOME_FOLDERS, drop_folder

HOME_ENTRY = f"/{DROP_FOLDER}"
"""What the partner sees: `sftp> put file.csv interval-data/` lands in its drop folder."""
UPLOAD_ACTIONS = ("s3:PutObject", "s3:GetObject")
LIST_ACTION = "s3:ListBucket"


def home_directory_mappings(bucket: str, partner_id: str) -> list[dict[str, str]]:
    """Transfer Family's HomeDirectoryDetails: one logical entry, the partner's drop folder."""
    return [{"Entry": HOME_ENTRY, "Target": f"/{bucket}/{drop_folder(partner_id)}"}]


def session_policy(bucket: str, partner_id: str) -> dict[str, Any]:
    """The IAM session policy of one login: list, upload and read inside the partner's drop folder only."""
    folder = drop_folder(partner_id)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListOwnDropFolder",
                "Effect": "Allow",
                "Action": LIST_ACTION,
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{folder}/", f"{folder}/*"]}},
            },
            {
                "Sid": "UploadAndReadOwnFiles",
                "Effect": "Allow",
                "Action": list(UPLOAD_ACTIONS),
                "Resource": f"{bucket_arn}/{folder}/*",
            },
            {
                "Sid": "OutcomesAreReadOnly",
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": [f"{bucket_arn}/{folder}/{outcome}/*" for outcome in sorted(OUTCOME_FOLDERS)],
            },
        ],
    }
