"""What `sam build` ships: meterhub and its runtime requirements in the layer, each function's app.py, and
nothing from development.

The local runner (meterhub_dev), moto, the in-memory fakes and the test tools live in this repository and
its venv beside the code that deploys, so only the built artifacts can show that none of them reaches Lambda.
`make build-check` runs `sam build` (no container) and then this module with MH_REQUIRE_SAM_BUILD=1. In a
plain `make test` the module skips without `.aws-sam/build`, and also when that build is older than the
sources (it would be checking code that no longer exists); with MH_REQUIRE_SAM_BUILD both are failures.
"""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from meterhub_dev.local.template_yaml import load_yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.conftest import ROOT, local_template

BUILD_DIR = ROOT / ".aws-sam" / "build"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
FUNCTION_TYPE = "AWS::Serverless::Function"
# What the Lambda Python runtime provides without a layer: the AWS SDK and the packages it depends on
# (shared/requirements.txt leaves boto3 out for this reason; the Green Button client uses botocore's urllib3).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil", "six"})
# Never in an artifact, whatever the dependency metadata says: the runner, the fakes, the tests themselves.
NEVER_SHIPPED = frozenset({"meterhub_dev", "devtools", "tests", "fakes", "benchmarks", "conftest", "moto", "pytest"})
# ELF e_machine of the architectures a template can name (BuildArchitecture / Architectures).
ELF_MACHINE = {"arm64": 183, "x86_64": 62}


def _required() -> bool:
    return os.environ.get("MH_REQUIRE_SAM_BUILD", "") not in ("", "0")


pytestmark = pytest.mark.skipif(
    not (BUILD_DIR / "template.yaml").is_file() and not _required(),
    reason=f"no sam build in {BUILD_DIR.relative_to(ROOT)}: `make build-check` builds and checks it",
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ----- the build ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """One installed distribution in an artifact, read from its .dist-info."""

    name: str  # normalized
    version: str
    requires: tuple[Requirement, ...]
    top_level: frozenset[str]  # first path component of every file its RECORD lists


@dataclass(frozen=True)
class Build:
    layers: Mapping[str, Path]  # logical id -> the layer's python/ directory
    functions: Mapping[str, Path]  # logical id -> the function's code directory

    def artifacts(self) -> Iterator[tuple[str, Path]]:
        yield from self.layers.items()
        yield from self.functions.items()


def _read_build() -> Build:
    if not (BUILD_DIR / "template.yaml").is_file():
        pytest.fail(f"MH_REQUIRE_SAM_BUILD is set but {BUILD_DIR} has no template.yaml: run `make build-check`")
    resources: Mapping[str, Mapping[str, object]] = load_yaml(BUILD_DIR / "template.yaml")["Resources"]

    def built(resource_type: str, uri_property: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for logical_id, resource in resources.items():
            properties = resource.get("Properties")
            if resource.get("Type") == resource_type and isinstance(properties, dict):
                found[logical_id] = BUILD_DIR / str(properties[uri_property])
        return found

    return Build(
        layers={logical_id: path / "python" for logical_id, path in built(LAYER_TYPE, "ContentUri").items()},
        functions=built(FUNCTION_TYPE, "CodeUri"),
    )


def _source_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _stale_files(build: Build) -> list[str]:
    """Files that differ between the build and the sources it was made from (meterhub, each app.py)."""
    pairs = [(build.layers[layer] / "meterhub", ROOT / "shared" / "meterhub") for layer in build.layers]
    sources = local_template().functions
    pairs += [(path, sources[function].code_dir) for function, path in build.functions.items() if function in sources]
    stale = []
    for built_dir, source_dir in pairs:
        built_files, source_files = _source_files(built_dir), _source_files(source_dir)
        for name in sorted(built_files.keys() | source_files.keys()):
            if built_files.get(name) != source_files.get(name):
                stale.append(f"{built_dir.relative_to(ROOT)}/{name}")
    return stale


@pytest.fixture(scope="module")
def build() -> Build:
    build = _read_build()
    if not _required() and _stale_files(build):
        pytest.skip("the sam build in .aws-sam/build is older than the sources: `make build-check` rebuilds it")
    return build


def _distributions(site: Path) -> dict[str, Distribution]:
    found = {}
    for dist_info in site.glob("*.dist-info"):
        metadata = email.parser.Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        record = (dist_info / "RECORD").read_text(encoding="utf-8").splitlines()
        name = _normalize(metadata["Name"])
        found[name] = Distribution(
            name=name,
            version=metadata["Version"],
            requires=tuple(Requirement(line) for line in metadata.get_all("Requires-Dist") or []),
            top_level=frozenset(line.split(",")[0].split("/")[0] for line in record if line),
        )
    return found


def _layer_requirements() -> list[Requirement]:
    lines = (ROOT / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in (line.split("#")[0].strip() for line in lines) if line]


def _build_architecture(layer: str) -> str:
    resource = local_template().resources[layer]
    return str((resource.get("Metadata") or {}).get("BuildArchitecture", "x86_64"))


# ----- the development dependencies, from this venv -----------------------------------------------------------


def _closure(requirements: Iterable[Requirement], installed: Mapping[str, list[Requirement]]) -> set[str]:
    """Names of the distributions the requirements pull in, through `installed` (name -> its requirements)."""
    seen: set[str] = set()
    pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = _normalize(requirement.name)
        if name not in installed or name in seen:
            continue
        seen.add(name)
        for dependency in installed[name]:
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras | {""}):
                pending.append((dependency, frozenset(dependency.extras)))
    return seen


@cache
def _dev_only() -> tuple[frozenset[str], frozenset[str]]:
    """(distribution names, top-level import names) that only the `dev` extra brings into the venv."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = {
        _normalize(dist.metadata["Name"]): [Requirement(line) for line in dist.requires or []]
        for dist in importlib.metadata.distributions()
    }
    runtime = _closure((Requirement(line) for line in project["dependencies"]), installed)
    dev = _closure((Requirement(line) for line in project["optional-dependencies"]["dev"]), installed) - runtime
    modules = {
        module
        for module, owners in importlib.metadata.packages_distributions().items()
        if all(_normalize(owner) in dev for owner in owners)
    }
    return frozenset(dev), frozenset(modules)


# ----- the checks ---------------------------------------------------------------------------------------------


def test_every_function_and_layer_of_the_template_was_built(build: Build) -> None:
    resources = local_template().resources
    assert set(build.layers) == {name for name, resource in resources.items() if resource.get("Type") == LAYER_TYPE}
    # sam build builds every function, whatever its Condition (SftpIdentityFunction only deploys with EnableSftp)
    assert set(build.functions) == {
        name for name, resource in resources.items() if resource.get("Type") == FUNCTION_TYPE
    }
    for name, path in build.artifacts():
        assert path.is_dir(), f"{name}: {path} was not built"


def test_the_built_code_is_the_current_source(build: Build) -> None:
    assert _stale_files(build) == [], "the build differs from the sources: run `make build-check`"


def test_the_layer_holds_meterhub_and_exactly_its_runtime_requirements(build: Build) -> None:
    requirements = _layer_requirements()
    assert requirements, "shared/requirements.txt lists the layer's dependencies"
    for layer, site in build.layers.items():
        assert (site / "meterhub" / "__init__.py").is_file(), f"{layer} has no meterhub package"
        distributions = _distributions(site)
        for requirement in requirements:
            installed = distributions.get(_normalize(requirement.name))
            assert installed is not None, f"{layer} lacks {requirement}"
            assert requirement.specifier.contains(installed.version), f"{layer}: {installed.name} {installed.version}"
        # Markers as Lambda evaluates them (its Python, Linux, the layer's architecture), not as this machine.
        target = {key: str(value) for key, value in default_environment().items()}
        target.update(
            python_version="3.13",
            sys_platform="linux",
            platform_system="Linux",
            platform_machine={"arm64": "aarch64"}.get(_build_architecture(layer), "x86_64"),
        )
        wanted: set[str] = set()
        pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
        while pending:
            requirement, extras = pending.pop()
            name = _normalize(requirement.name)
            if name in wanted:
                continue
            wanted.add(name)
            for dependency in distributions[name].requires if name in distributions else ():
                marker = dependency.marker
                if marker is None or any(marker.evaluate({**target, "extra": e}) for e in extras | {""}):
                    pending.append((dependency, frozenset(dependency.extras)))
        assert sorted(set(distributions) - wanted) == [], f"{layer}: not pulled in by shared/requirements.txt"


def test_no_development_package_is_shipped(build: Build) -> None:
    dev_distributions, dev_modules = _dev_only()
    assert {"moto", "pytest", "mypy", "cfn-lint"} <= dev_distributions, "the dev extra is read from pyproject.toml"
    for name, artifact in build.artifacts():
        distributions = _distributions(artifact)
        shipped = sorted(set(distributions) & dev_distributions)
        assert not shipped, f"{name} ships development distributions: {shipped}"
        owned: set[str] = set().union(*(distribution.top_level for distribution in distributions.values()))
        for path in artifact.rglob("*"):
            relative = path.relative_to(artifact)
            modules = [part.removesuffix(".py") for part in relative.parts]
            # Any top-level name is an importable module; deeper down only our own names are suspect.
            assert modules[0] not in dev_modules, f"{name} ships {relative}, a development dependency"
            assert not set(modules) & NEVER_SHIPPED, f"{name} ships {relative}"
            if len(relative.parts) == 1 and name in build.layers:
                assert relative.name in owned | {"meterhub", "requirements.txt"}, f"{name}: {relative} is no package's"
        if name in build.functions:
            assert not distributions, f"{name} ships packages of its own (they belong in the layer)"


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Top-level module of every import that runs (those under `if TYPE_CHECKING:` never do)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def test_shipped_code_imports_only_what_lambda_has(build: Build) -> None:
    available = set(sys.stdlib_module_names) | RUNTIME_PROVIDED | {"meterhub"}
    for site in build.layers.values():
        available |= set().union(*(d.top_level for d in _distributions(site).values()))
    for name, artifact in build.artifacts():
        code = [artifact / "meterhub"] if name in build.layers else [artifact]
        for path in (file for directory in code for file in directory.rglob("*.py")):
            for line, module in _imports(ast.parse(path.read_bytes(), filename=str(path))):
                assert module in available, f"{path.relative_to(BUILD_DIR)}:{line} imports {module}"


def test_compiled_extensions_are_built_for_the_layer_architecture(build: Build) -> None:
    for layer, site in build.layers.items():
        architecture = _build_architecture(layer)
        extensions = list(site.rglob("*.so"))
        assert extensions, f"{layer}: pydantic-core ships a compiled extension"
        for extension in extensions:
            header = extension.read_bytes()[:20]
            assert header[:4] == b"\x7fELF", f"{extension} is not an ELF file"
            machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
            assert machine == ELF_MACHINE[architecture], f"{extension.relative_to(BUILD_DIR)} is not {architecture}"
