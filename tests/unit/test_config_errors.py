"""config.parse_args, shared by every console script: a configuration the operator got
wrong ends the process with one line on stderr and status 2, never a traceback.

Each case runs in a child process: parse_args ends it, and registers its options on
the global CONF once per process.
"""
import subprocess
import sys

import pytest

from tests.unit.test_manage import assert_one_line_error

_PARSE = """
import sys
from nova_console import config
config.parse_args(sys.argv)
print("parsed: debug=%s" % config.CONF.debug)
"""


def parse(*args):
    return subprocess.run([sys.executable, "-c", _PARSE, *args], capture_output=True,
                          text=True, timeout=60)


def test_a_missing_config_file_is_one_line_naming_it(tmp_path):
    missing = str(tmp_path / "nope.conf")
    assert_one_line_error(parse("--config-file", missing), 2,
                          "-c: error: Failed to find some config files", missing)


def test_a_config_file_that_is_not_ini_is_one_line_naming_the_line(tmp_path):
    broken = tmp_path / "broken.conf"
    broken.write_text("[DEFAULT]\nthis is no option\n")
    assert_one_line_error(parse("--config-file", str(broken)), 2,
                          "Failed to parse %s" % broken, "this is no option")


def test_a_missing_config_dir_is_one_line(tmp_path):
    assert_one_line_error(parse("--config-dir", str(tmp_path / "nodir")), 2,
                          "Failed to read config file directory")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_value_of_the_wrong_type_is_one_line_naming_the_option(tmp_path, value):
    config_file = tmp_path / "nova_console.conf"
    config_file.write_text("[DEFAULT]\nuse_stderr = %s\n" % value)
    assert_one_line_error(parse("--config-file", str(config_file)), 2,
                          "Value for option use_stderr", "is not valid")


def test_a_good_config_file_is_parsed(tmp_path):
    config_file = tmp_path / "nova_console.conf"
    config_file.write_text("[DEFAULT]\ndebug = true\n")
    result = parse("--config-file", str(config_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "parsed: debug=True"


@pytest.mark.parametrize("section, option, value", [
    ("console", "workers", "two"), ("consoleauth", "token_ttl", "soon"),
    ("DEFAULT", "osapi_compute_listen_port", "99999")])
def test_a_wrong_value_of_any_option_is_one_line_before_the_service_starts(
        tmp_path, section, option, value):
    """Not only the options logging reads at setup: every option is checked there."""
    config = tmp_path / "nova_console.conf"
    config.write_text("[%s]\n%s = %s\n" % (section, option, value))
    assert_one_line_error(parse("--config-file", str(config)), 2, "-c: error:", option)
