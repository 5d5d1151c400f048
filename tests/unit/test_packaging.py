"""What a packaged install gets: a systemd unit per service, setup.py's entry points,
and the oslopolicy tools seeing the operator's policy file."""
import ast
import collections
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT_DIR = os.path.join(ROOT, "etc", "systemd")
SHIPPED_CONFIG = "/etc/nova_console/nova_console.conf"
# Console scripts that are no long-running service of a packaged install.
NOT_SERVICES = {"nova-console-all-in-one", "nova-console-manage"}
PROXIES = {"nova-novncproxy", "nova-xvpvncproxy", "nova-spicehtml5proxy", "nova-serialproxy"}


def setup_entry_points():
    """setup.py's entry_points argument, read from its source (not the installed
    metadata, which may predate the last edit)."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "entry_points":
                    return ast.literal_eval(keyword.value)
    raise AssertionError("setup.py has no setup(entry_points=...)")


def service_scripts():
    """The console scripts that run a service, by name."""
    scripts = (entry.split("=")[0].strip()
               for entry in setup_entry_points()["console_scripts"])
    return sorted(set(scripts) - NOT_SERVICES)


def unit_names():
    return sorted(name[:-len(".service")] for name in os.listdir(UNIT_DIR)
                  if name.endswith(".service"))


def read_unit(name):
    """{section: {key: [values]}} of etc/systemd/<name>.service (a key may repeat)."""
    sections = collections.defaultdict(lambda: collections.defaultdict(list))
    section = None
    with open(os.path.join(UNIT_DIR, name + ".service"), encoding="utf-8") as unit:
        for line in unit:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            else:
                key, _, value = line.partition("=")
                sections[section][key].append(value)
    return sections


def service(name):
    """The [Service] section of a unit, each key to its last value (systemd's rule for
    the settings checked here)."""
    return {key: values[-1] for key, values in read_unit(name)["Service"].items()}


def test_every_service_console_script_has_a_systemd_unit_and_every_unit_a_script():
    assert unit_names() == service_scripts()
    assert len(unit_names()) == 7


@pytest.mark.parametrize("name", unit_names())
def test_unit_starts_the_packaged_script_with_the_shipped_config_file(name):
    assert service(name)["ExecStart"] == "/usr/bin/%s --config-file %s" % (name,
                                                                           SHIPPED_CONFIG)


@pytest.mark.parametrize("name", unit_names())
def test_unit_is_a_notify_service_of_user_nova_console_restarted_on_failure(name):
    settings = service(name)
    assert settings["Type"] == "notify"
    assert (settings["User"], settings["Group"]) == ("nova_console", "nova_console")
    assert settings["Restart"] == "on-failure"
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["StateDirectory"] == "nova_console"
    # Longer than the 5 s a service takes at most to stop, so systemd never kills one
    # that is ending on its own.
    assert int(settings["TimeoutStopSec"]) > 5
    assert read_unit(name)["Install"]["WantedBy"] == ["multi-user.target"]


def test_compute_unit_leaves_the_instances_running_when_it_stops():
    settings = service("nova-console-compute")
    assert settings["KillMode"] == "process"
    assert settings["NotifyAccess"] == "main"


def test_compute_unit_keeps_what_qemu_and_libvirt_need():
    settings = service("nova-console-compute")
    # /dev/kvm, setuid helpers (qemu-bridge-helper), a JIT (TCG) and namespaces.
    for setting in ("PrivateDevices", "NoNewPrivileges", "MemoryDenyWriteExecute",
                    "RestrictNamespaces", "SystemCallFilter", "CapabilityBoundingSet",
                    "PrivateTmp"):
        assert setting not in settings
    assert settings["ProtectSystem"] == "full"


@pytest.mark.parametrize("name", sorted(set(unit_names()) - {"nova-console-compute"}))
def test_services_but_compute_are_confined(name):
    settings = service(name)
    assert settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["PrivateDevices"] == "yes"
    assert settings["CapabilityBoundingSet"] == ""
    # A parent's SIGTERM stops its workers; systemd kills only what outlives the timeout.
    assert settings["KillMode"] == "mixed"


@pytest.mark.parametrize("name", unit_names())
def test_readiness_is_accepted_only_from_the_main_process(name):
    """service.run(): the supervisor of proxy workers reports READY=1 itself."""
    assert service(name)["NotifyAccess"] == "main"


def test_oslopolicy_tools_find_the_enforcer_and_the_operators_policy_file(tmp_path):
    """oslopolicy-policy-generator prints the effective policy: the defaults of
    nova_console.api.policies, with the overrides of [oslo_policy] policy_file read
    from the default config file (here ~/.nova_console/nova_console.conf)."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"os_compute_api:os-console-output": "role:auditor"\n')
    (tmp_path / ".nova_console").mkdir()
    (tmp_path / ".nova_console" / "nova_console.conf").write_text(
        "[oslo_policy]\npolicy_file = %s\n" % policy_file)
    generator = os.path.join(os.path.dirname(sys.executable), "oslopolicy-policy-generator")
    result = subprocess.run([generator, "--namespace", "nova_console"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path,
                            env=dict(os.environ, HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"os_compute_api:os-console-output": "role:auditor"' in lines
    assert '"context_is_admin": "role:admin"' in lines
