#!/bin/sh
# Prints the interpreter to build the venv with: the Python of the Lambda runtime template.yaml names
# (Globals -> Function -> Runtime, e.g. python3.13), from PATH or from pyenv; else python3, with a warning,
# so a machine without it can still run the tests (the code stays 3.11-compatible: ruff and mypy target 3.11).
set -eu
cd "$(dirname "$0")/.."
runtime=$(sed -n 's/^    Runtime: \(python[0-9.]*\)$/\1/p' template.yaml | head -n 1)
version=${runtime#python}
if [ -n "$version" ] && command -v "$runtime" >/dev/null 2>&1 && "$runtime" -c "" >/dev/null 2>&1; then
  command -v "$runtime"
  exit 0
fi
if [ -n "$version" ] && command -v pyenv >/dev/null 2>&1; then
  installed=$(pyenv versions --bare 2>/dev/null | grep -E "^${version}(\.[0-9]+)?$" | sort -V | tail -n 1 || true)
  if [ -n "$installed" ] && [ -x "$(pyenv root)/versions/$installed/bin/$runtime" ]; then
    echo "$(pyenv root)/versions/$installed/bin/$runtime"
    exit 0
  fi
fi
echo "warning: ${runtime:-the template's runtime} not found (PATH or pyenv); testing on python3 instead" >&2
echo python3
