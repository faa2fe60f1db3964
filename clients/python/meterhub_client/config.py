"""Where the API key and URL come from: the environment, else a config file. The key is never printed.

    MH_API_KEY / MH_API_URL                  (environment; they win)
    ~/.config/meterhub/config.toml           ($XDG_CONFIG_HOME/meterhub/config.toml, or the file MH_CONFIG names):
        api_key = "mh_..."
        api_url = "http://127.0.0.1:3000"

There is deliberately no command-line option for the key: arguments show in `ps` and in shell history.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from meterhub_client.client import DEFAULT_URL
from meterhub_client.errors import MeterhubError


class ConfigError(MeterhubError):
    """No API key, or an unreadable config file."""


@dataclass(frozen=True)
class Config:
    api_url: str
    api_key: str = field(repr=False)
    source: str
    """Where the key came from (the environment or the file's path): safe to show, unlike the key."""


def config_path(environ: Mapping[str, str]) -> Path:
    if environ.get("MH_CONFIG"):
        return Path(environ["MH_CONFIG"])
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "meterhub" / "config.toml"


def load_config(environ: Mapping[str, str] | None = None, api_url: str | None = None) -> Config:
    """The key and URL to use; `api_url` (a command-line option) overrides both sources' URL."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    stored: dict[str, object] = {}
    if path.is_file():
        try:
            stored = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read {path}: {error}") from None
    url = api_url or env.get("MH_API_URL") or str(stored.get("api_url") or DEFAULT_URL)
    if env.get("MH_API_KEY"):
        return Config(api_url=url, api_key=env["MH_API_KEY"], source="MH_API_KEY")
    key = stored.get("api_key")
    if isinstance(key, str) and key:
        return Config(api_url=url, api_key=key, source=str(path))
    raise ConfigError(f"no API key: set MH_API_KEY, or api_key in {path}")
