"""The command line without root: parsing, choices from the registries, and the checks made before anything is
loaded, through click's CliRunner (the real-process paths are in tests/integration)."""
import pytest
from click.testing import CliRunner

from netdrop.cli import cli
from netdrop.errors import UsageError
from netdrop.lab import SCENARIOS


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.mark.parametrize("command", ["diagnose", "top", "watch", "export", "check", "lab up", "lab traffic"])
def test_every_command_has_help(command):
    r = run(*command.split(), "--help")
    assert r.exit_code == 0 and "Usage: cli " + command in r.output


def test_lab_scenarios_come_from_the_registry():
    r = run("lab", "up", "--scenario", "no-such-fault")
    assert r.exit_code == 2
    assert all(name in r.output for name in SCENARIOS)


@pytest.mark.parametrize("args, message", [
    (["export", "--interval", "5", "--window", "2"], "--window 2 is shorter than --interval 5"),
    (["export", "--listen", "9932"], "--listen '9932' is not ADDR:PORT"),
    (["export", "--listen", "127.0.0.1:99999"], "--listen '127.0.0.1:99999' is not ADDR:PORT"),
    (["export", "--textfile", "/tmp/netdrop.txt"], "node_exporter reads only files ending in .prom"),
    (["export", "--textfile", "/no/such/dir/netdrop.prom"], "the directory /no/such/dir does not exist"),
])
def test_export_refuses_bad_options_before_loading_anything(args, message):
    r = run(*args)
    assert isinstance(r.exception, UsageError), r.output
    assert message in r.exception.message and r.exception.hint


@pytest.mark.parametrize("args", [["diagnose", "--duration", "0"], ["watch", "--duration", "-1"],
                                  ["top", "--interval", "0"], ["export", "--max-series", "0"],
                                  ["diagnose", "--classify", "bogus"], ["top", "--sort", "bogus"]])
def test_out_of_range_values_are_usage_errors(args):
    r = run(*args)
    assert r.exit_code == 2 and "Invalid value" in r.output


def test_ready_file_in_a_missing_directory_is_refused_before_attaching():
    r = run("top", "--ready-file", "/no/such/dir/ready")
    assert r.exit_code == 2 and "does not exist" in r.output
