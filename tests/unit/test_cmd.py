"""The compute service's and the all-in-one's start-up: which driver, and readable failures.

nova_console.cmd patches the process for eventlet when imported, so these tests use it
in child processes only.
"""
import json
import os
import subprocess
import sys

import pytest

QEMU_PATH = "/usr/bin/qemu-system-x86_64"
NASM_PATH = "/usr/bin/nasm"

# Runs all_in_one.choose_compute_driver() with shutil.which finding only the programs
# given, and drivers that load as their names (or fail, for those listed as broken).
_CHOOSE = """
import json, sys
from nova_console.cmd import all_in_one
from nova_console.compute.drivers import loader
from nova_console import exception

programs, broken, config_files = json.loads(sys.argv[1])
all_in_one.shutil.which = programs.get

def load_driver(name):
    if name in broken:
        raise exception.DriverLoadError(driver=name, reason="broken on purpose")
    return name

loader.load_driver = load_driver
all_in_one.CONF([a for f in config_files for a in ("--config-file", f)],
                project="nova_console", default_config_files=[])
print(json.dumps(all_in_one.choose_compute_driver()))
"""


def choose(programs, broken=(), config_files=()):
    result = subprocess.run(
        [sys.executable, "-c", _CHOOSE, json.dumps([programs, list(broken),
                                                    list(config_files)])],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(json.loads(result.stdout.splitlines()[-1]))


INSTALLED = {"qemu-system-x86_64": QEMU_PATH, "nasm": NASM_PATH}


def test_all_in_one_picks_qemu_when_qemu_and_nasm_are_installed():
    assert choose(INSTALLED) == ("qemu", "qemu", "QEMU found at %s" % QEMU_PATH)


def test_all_in_one_falls_back_to_fake_without_qemu():
    assert choose({"nasm": NASM_PATH}) == ("fake", "fake", "QEMU not installed")


def test_all_in_one_falls_back_to_fake_without_nasm():
    assert choose({"qemu-system-x86_64": QEMU_PATH}) == (
        "fake", "fake", "QEMU found at %s, but not nasm" % QEMU_PATH)


def test_all_in_one_falls_back_to_fake_when_the_qemu_driver_does_not_load():
    assert choose(INSTALLED, broken=["qemu"]) == (
        "fake", "fake", "QEMU found at %s, but unusable" % QEMU_PATH)


def test_all_in_one_keeps_a_driver_named_in_the_configuration(tmp_path):
    config = tmp_path / "nova_console.conf"
    config.write_text("[DEFAULT]\ncompute_driver = fake\n")
    assert choose(INSTALLED, config_files=[str(config)]) == (
        "fake", "fake", "set in the configuration")


def test_compute_service_with_a_driver_that_does_not_load_exits_with_one_line(tmp_path):
    config = tmp_path / "nova_console.conf"
    config.write_text("[DEFAULT]\ncompute_driver = no-such-driver\ntransport_url = fake://\n"
                      "state_path = %s\n" % tmp_path)
    script = os.path.join(os.path.dirname(sys.executable), "nova-console-compute")
    if not os.access(script, os.X_OK):
        pytest.skip("nova-console-compute is not installed next to this Python")
    result = subprocess.run([script, "--config-file", str(config)], capture_output=True,
                            text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Could not load compute driver no-such-driver: LookupError" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
