"""Overlapping local invocations share os.environ: one ending must not take the variables from another."""

from __future__ import annotations

import os

from meterhub.local.lambda_runtime import _SharedEnvironment


def test_the_first_call_to_end_leaves_the_variables_to_the_one_still_running() -> None:
    environment = _SharedEnvironment()
    name = "MH_TEST_SHARED_ENVIRONMENT"
    os.environ.pop(name, None)
    first, second = environment.applied({name: "table"}), environment.applied({name: "table"})
    first.__enter__()
    second.__enter__()  # another function starts while the first still runs
    first.__exit__(None, None, None)  # the first ends before it
    assert os.environ[name] == "table"  # the second still reads its settings
    second.__exit__(None, None, None)
    assert name not in os.environ  # restored once nothing runs
