"""Settings models read exactly their variables, fail loudly without them, and are read once per process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from meterhub.platform.settings import (
    EnvironmentSettings,
    MetersTableSettings,
    PartnersTableSettings,
    PublicBaseUrlSettings,
    StageSettings,
    UtilityProviderSettings,
    forget_loaded_settings,
)
from meterhub.platform.web.base_url import public_base_url
from pydantic import ValidationError


class ApiSettings(StageSettings, MetersTableSettings, PartnersTableSettings):
    pass


class PagesSettings(PartnersTableSettings, PublicBaseUrlSettings, UtilityProviderSettings):
    pass


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    forget_loaded_settings()
    yield
    forget_loaded_settings()


def test_a_model_declares_the_variables_of_its_parts() -> None:
    assert ApiSettings.variable_names() == {"STAGE", "METERS_TABLE_NAME", "PARTNERS_TABLE_NAME"}
    assert ApiSettings.variable_prefixes() == frozenset()
    assert PagesSettings.variable_names() == {"PARTNERS_TABLE_NAME", "PUBLIC_BASE_URL"}
    assert PagesSettings.variable_prefixes() == {"UTILITY_"}


def test_from_environ_reads_only_the_declared_variables() -> None:
    settings = ApiSettings.from_environ(
        {"STAGE": "prod", "METERS_TABLE_NAME": "m", "PARTNERS_TABLE_NAME": "p", "JOBS_TABLE_NAME": "j"}
    )
    assert (settings.stage, settings.meters_table_name, settings.partners_table_name) == ("prod", "m", "p")
    assert settings.is_production and not settings.is_local


def test_a_missing_or_empty_variable_fails_loudly() -> None:
    with pytest.raises(ValidationError, match="meters_table_name"):
        ApiSettings.from_environ({"PARTNERS_TABLE_NAME": "p"})
    with pytest.raises(ValidationError, match="meters_table_name"):
        ApiSettings.from_environ({"PARTNERS_TABLE_NAME": "p", "METERS_TABLE_NAME": ""})
    with pytest.raises(ValidationError, match="stage"):
        ApiSettings.from_environ({"PARTNERS_TABLE_NAME": "p", "METERS_TABLE_NAME": "m", "STAGE": "qa"})


def test_a_prefix_family_collects_its_variables_by_full_name_but_not_declared_ones() -> None:
    class SyncQueueAndUtilities(UtilityProviderSettings):
        utility_sync_queue_url: str

    settings = SyncQueueAndUtilities.from_environ(
        {"UTILITY_PGE_SCOPE": "s", "UTILITY_SYNC_QUEUE_URL": "https://q", "STAGE": "dev"}
    )
    assert settings.utility_variables == {"UTILITY_PGE_SCOPE": "s"}
    assert settings.utility_sync_queue_url == "https://q"
    assert PagesSettings.from_environ({"PARTNERS_TABLE_NAME": "p"}).utility_variables == {}


def test_load_reads_the_environment_once_until_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERS_TABLE_NAME", "first")
    first = PartnersTableSettings.load()
    monkeypatch.setenv("PARTNERS_TABLE_NAME", "second")
    assert PartnersTableSettings.load() is first
    forget_loaded_settings()
    assert PartnersTableSettings.load().partners_table_name == "second"


def test_a_model_without_variables_reads_nothing() -> None:
    class Nothing(EnvironmentSettings):
        pass

    assert Nothing.variable_names() == frozenset()
    assert Nothing.from_environ({"STAGE": "prod"}) == Nothing()


def test_the_configured_public_base_url_wins_over_the_request() -> None:
    event = {"requestContext": {"domainName": "abc.execute-api.us-east-1.amazonaws.com", "stage": "dev"}}
    assert public_base_url(event, "") == "https://abc.execute-api.us-east-1.amazonaws.com/dev"
    assert public_base_url(event, " https://api.example.com/ ") == "https://api.example.com"
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        public_base_url(event, "ftp://api.example.com")
