"""meterhub.platform stays the bottom layer, and it is the only place that spells a DynamoDB key prefix."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from meterhub.platform import keys

ROOT = Path(__file__).resolve().parents[2]
METERHUB = ROOT / "shared" / "meterhub"
PLATFORM = METERHUB / "platform"
KEYS_MODULE = PLATFORM / "keys.py"
KEY_PREFIXES = tuple(
    value for name, value in vars(keys).items() if name.isupper() and isinstance(value, str) and value.endswith("#")
)


def _sources() -> Iterator[Path]:
    for folder in (METERHUB, ROOT / "functions", ROOT / "scripts", ROOT / "benchmarks"):
        yield from sorted(folder.rglob("*.py"))


def _imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_platform_imports_no_feature_module() -> None:
    modules = sorted(PLATFORM.glob("*.py"))
    assert {path.name for path in modules} >= {"clients.py", "codec.py", "keys.py", "paging.py", "streams.py"}
    feature_imports = [
        f"{path.name}: {module}"
        for path in modules
        for module in _imported_modules(path)
        if module.startswith("meterhub") and not module.startswith("meterhub.platform")
    ]
    assert feature_imports == []


def test_the_old_storage_helper_modules_are_gone() -> None:
    """Moved, not copied: one import path for the clients and the codec."""
    assert not (METERHUB / "dal" / "clients.py").exists()
    assert not (METERHUB / "dal" / "codec.py").exists()
    stale = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources()
        for module in _imported_modules(path)
        if module in {"meterhub.dal.clients", "meterhub.dal.codec"}
    ]
    assert stale == []


def test_key_prefixes_are_spelled_only_in_the_keys_module() -> None:
    assert {"PARTNER#", "METER#", "REF#", "JOB#", "UPLOAD#", "SESSION#", "AUTH#", "WEBHOOK#"} <= set(KEY_PREFIXES)
    spelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path in _sources()
        if path != KEYS_MODULE
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(KEY_PREFIXES)
    ]
    assert spelled == []


def test_each_prefix_is_declared_once() -> None:
    assert len(KEY_PREFIXES) == len(set(KEY_PREFIXES))
