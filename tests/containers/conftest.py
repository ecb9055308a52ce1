import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("NETDROP_TEST_CONTAINERS") == "1" and os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="container tests run only when asked: make test-containers "
                                   "(NETDROP_TEST_CONTAINERS=1, as root)")
    for item in items:
        if "containers" in str(item.fspath):
            item.add_marker(skip)
