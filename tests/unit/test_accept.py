"""meterhub.platform.api.accept.json_or_csv: the representation a JSON-or-CSV route answers in, and its 415."""

from __future__ import annotations

import pytest
from meterhub.platform.api.accept import CSV, JSON, json_or_csv
from meterhub.platform.errors import UnsupportedMediaType


@pytest.mark.parametrize(
    ("accept", "answer"),
    [
        (None, JSON),
        ("", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/*", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        (" text/csv ;q=1, application/json", CSV),
        ("application/json, text/csv", JSON),
        ("*/*, text/csv", JSON),
    ],
)
def test_the_first_media_range_chooses_json_or_csv(accept: str | None, answer: str) -> None:
    assert json_or_csv(accept) == answer


@pytest.mark.parametrize(
    ("accept", "named"),
    [
        ("application/xml", "application/xml"),
        ("text/html, text/csv", "text/html"),
        ("application/csv", "application/csv"),
        ("image/" + "x" * 100 + "; q=0.5", "image/" + "x" * 58),
    ],
)
def test_anything_else_is_a_415_naming_what_was_asked_for(accept: str, named: str) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        json_or_csv(accept)
    assert refused.value.status == 415
    assert (refused.value.title, refused.value.details) == ("Unsupported Accept", {"accept": named})
