"""Every console script answers --version, as operators expect of an OpenStack service."""
from importlib import metadata
import subprocess
import sys

import pytest

SCRIPTS = sorted(entry_point for entry_point in metadata.entry_points(group="console_scripts")
                 if entry_point.value.startswith("nova_console."))


def test_every_project_script_is_installed():
    assert len(SCRIPTS) >= 9, [entry_point.name for entry_point in SCRIPTS]


@pytest.mark.parametrize("entry_point", SCRIPTS, ids=lambda entry_point: entry_point.name)
def test_script_prints_the_installed_version(entry_point):
    module, function = entry_point.value.split(":")
    program = ("import sys; from %s import %s as main; sys.argv = [%r, '--version']; "
               "sys.exit(main())" % (module, function, entry_point.name))
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == metadata.version("nova_console")
