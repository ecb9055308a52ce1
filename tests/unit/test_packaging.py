"""The wheel carries every package and the C programs (a non-editable install must run: scripts/check-wheel.sh
proves it in CI)."""
import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

import pytest

from ..conftest import ROOT


@pytest.mark.skipif(tomllib is None, reason="needs Python 3.11's tomllib to read pyproject.toml")
def test_every_package_and_the_bpf_sources_are_listed():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        tool = tomllib.load(f)["tool"]["setuptools"]
    found = {os.path.relpath(d, ROOT).replace(os.sep, ".") for d, _, files in os.walk(os.path.join(ROOT, "netdrop"))
             if "__init__.py" in files}
    assert set(tool["packages"]) == found | {"netdrop.bpf_sources"}
    assert tool["package-dir"]["netdrop.bpf_sources"] == "bpf"
    assert set(tool["package-data"]["netdrop.bpf_sources"]) == {"*.c", "*.h"}
