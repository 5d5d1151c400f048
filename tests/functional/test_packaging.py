"""The shipped systemd units pass systemd-analyze verify, and every console script
fails as an operator expects (one line, non-zero status, no traceback) on a missing
config file or a database that `nova-console-manage db sync` never prepared."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.unit.test_manage import assert_one_line_error, run_script, write_config
from tests.unit.test_packaging import UNIT_DIR, service_scripts, unit_names

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
BIN_DIR = os.path.dirname(sys.executable)
EVERY_SCRIPT = service_scripts() + ["nova-console-all-in-one", "nova-console-manage"]

needs_systemd_analyze = pytest.mark.skipif(
    not os.access(SYSTEMD_ANALYZE, os.X_OK), reason="systemd-analyze is not installed")


def venv_units(directory, names):
    """Copies of the shipped units whose /usr/bin scripts are this virtual
    environment's: verify checks that ExecStart names an executable."""
    paths = []
    for name in names:
        with open(os.path.join(UNIT_DIR, name + ".service"), encoding="utf-8") as unit:
            text = unit.read().replace("=/usr/bin/", "=%s/" % BIN_DIR)
        path = directory / (name + ".service")
        path.write_text(text)
        paths.append(str(path))
    return paths


def verify(paths):
    """systemd-analyze verify's findings: empty when every unit is right. Warnings
    (an unknown key, a bad value it ignores) leave its status 0, so any output counts."""
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *paths],
                            capture_output=True, text=True, timeout=120)
    return (result.returncode, (result.stdout + result.stderr).strip())


@needs_systemd_analyze
def test_systemd_analyze_verifies_every_shipped_unit(tmp_path):
    assert verify(venv_units(tmp_path, unit_names())) == (0, "")


@needs_systemd_analyze
@pytest.mark.parametrize("mistake, finding", [
    ("KillMode=mixed", "KillMode=sometimes"),
    ("Type=notify", "Tpye=notify"),
])
def test_systemd_analyze_verify_reports_a_broken_unit(tmp_path, mistake, finding):
    (path,) = venv_units(tmp_path, ["nova-novncproxy"])
    with open(path, encoding="utf-8") as unit:
        text = unit.read()
    with open(path, "w", encoding="utf-8") as unit:
        unit.write(text.replace(mistake, finding))
    assert verify([path])[1] != ""


@needs_systemd_analyze
def test_systemd_analyze_verify_reports_a_script_that_is_not_installed(tmp_path):
    if os.path.exists("/usr/bin/nova-novncproxy"):
        pytest.skip("nova_console is installed system-wide here")
    path = tmp_path / "nova-novncproxy.service"
    shutil.copy(os.path.join(UNIT_DIR, "nova-novncproxy.service"), path)
    returncode, output = verify([str(path)])
    assert returncode != 0 and "/usr/bin/nova-novncproxy" in output


@pytest.mark.parametrize("script", EVERY_SCRIPT)
def test_every_console_script_with_a_missing_config_file_exits_with_one_line(tmp_path,
                                                                            script):
    missing = str(tmp_path / "nope.conf")
    args = ("--config-file", missing) + (("db", "version") if script.endswith("manage")
                                         else ())
    result = run_script(os.path.join(BIN_DIR, script), *args, timeout=120)
    assert_one_line_error(result, 2, "%s: error:" % script, missing)


@pytest.mark.parametrize("script, args", [
    ("nova-console-manage", ("console", "tokens", "list")),
    ("nova-console-manage", ("db", "purge", "--before", "2025-01-01")),
    ("nova-console-api", ()),
    ("nova-consoleauth", ()),
])
def test_scripts_against_a_database_never_synced_exit_with_one_line(tmp_path, script, args):
    state = tmp_path / "state"
    state.mkdir()
    config_file = write_config(tmp_path, state, transport_url="fake://")
    result = run_script(os.path.join(BIN_DIR, script), "--config-file", config_file, *args,
                        timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nova-console-manage db sync" in lines[0], result.stderr


@pytest.mark.parametrize("script, section, options, reason", [
    ("nova-console-api", "api", {"flavors": "1:m1.tiny:1:512"},
     "[api] flavors: entry '1:m1.tiny:1:512' is not 'id:name:vcpus:ram_mb:disk_gb'"),
    ("nova-novncproxy", "DEFAULT", {"ssl_only": "true", "cert": "/nonexistent.pem"},
     "ssl_only is set but the certificate file /nonexistent.pem does not exist"),
    ("nova-serialproxy", "healthcheck", {"proxy_detailed_source_ranges": "10.0.0.0/33"},
     "[healthcheck] proxy_detailed_source_ranges"),
])
def test_services_whose_options_do_not_let_them_start_exit_with_one_line(
        tmp_path, script, section, options, reason):
    state = tmp_path / "state"
    state.mkdir()
    config_file = write_config(tmp_path, state, connection="sqlite:///%s/db.sqlite" % state,
                               transport_url="fake://")
    with open(config_file, "a", encoding="utf-8") as conf:
        conf.write("[%s]\n" % section + "".join("%s = %s\n" % item for item in options.items()))
    manage = os.path.join(BIN_DIR, "nova-console-manage")
    assert run_script(manage, "--config-file", config_file, "db", "sync").returncode == 0
    result = run_script(os.path.join(BIN_DIR, script), "--config-file", config_file)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if " CRITICAL " in line]
    assert len(failures) == 1 and "%s cannot start" % script in failures[0], output
    assert reason in failures[0]
