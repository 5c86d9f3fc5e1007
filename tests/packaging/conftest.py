"""The packaging suite: the systemd unit, the manual pages, the
CloudFormation templates and IAM policy, the Debian package, the demo.
Run by `sudo ./scripts/test packaging` (which installs what it needs,
cfn-lint from npm included) or directly:

    NODEAGENT_BUILD=build /usr/bin/python3 -m pytest tests/packaging [-m 'not slow']
"""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

BUILD = os.path.abspath(os.environ.get("NODEAGENT_BUILD", os.path.join(TOP, "build")))
NODEAGENT = os.environ.get("NODEAGENT_BIN", os.path.join(BUILD, "agent", "nodeagent"))
# The npm package cfn-lint; scripts/test installs it under build/npm.
CFN_LINT = os.environ.get("NODEAGENT_CFN_LINT", os.path.join(TOP, "build", "npm", "node_modules", ".bin",
                                                              "cfn-lint"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (builds the Debian package)")
    config.addinivalue_line("markers", "root: needs root (loop devices, namespaces, mounts)")


@pytest.fixture(scope="session")
def nodeagent():
    if not os.access(NODEAGENT, os.X_OK):
        pytest.fail(f"{NODEAGENT} is not built (meson compile -C {BUILD})")
    return NODEAGENT


@pytest.fixture(scope="session")
def build_dir(nodeagent):
    return BUILD


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root")


def need_tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed")
    return path


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
