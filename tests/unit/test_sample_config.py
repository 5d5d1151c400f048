"""The shipped sample config is what oslo-config-generator makes from the code."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "etc", "nova_console", "nova_console.conf.sample")
GENERATOR_CONF = os.path.join(ROOT, "etc", "nova_console", "nova_console-config-generator.conf")


def test_sample_config_is_up_to_date(tmp_path):
    output = tmp_path / "sample.conf"
    generator = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")
    subprocess.run([generator, "--config-file", GENERATOR_CONF, "--output-file", str(output)],
                   check=True, cwd=ROOT, capture_output=True)
    with open(SAMPLE, encoding="utf-8") as shipped:
        assert output.read_text(encoding="utf-8") == shipped.read(), (
            "etc/nova_console/nova_console.conf.sample is stale: run 'tox -e genconfig'")


def test_sample_config_documents_novas_option_names():
    with open(SAMPLE, encoding="utf-8") as shipped:
        text = shipped.read()
    for expected in ("[vnc]", "#novncproxy_base_url = http://127.0.0.1:6080/vnc_lite.html",
                     "[consoleauth]", "#token_ttl = 600", "#enforce_session_timeout = false",
                     "[console]", "#allowed_origins =", "[database]", "#connection = ",
                     "#transport_url = rabbit://", "#osapi_compute_listen_port = 8774"):
        assert expected in text


POLICY_SAMPLE = os.path.join(ROOT, "etc", "nova_console", "policy.yaml.sample")
POLICY_GENERATOR_CONF = os.path.join(ROOT, "etc", "nova_console",
                                     "nova_console-policy-generator.conf")


def test_policy_sample_is_up_to_date(tmp_path):
    output = tmp_path / "policy.yaml.sample"
    generator = os.path.join(os.path.dirname(sys.executable), "oslopolicy-sample-generator")
    subprocess.run([generator, "--config-file", POLICY_GENERATOR_CONF,
                    "--output-file", str(output)], check=True, cwd=ROOT, capture_output=True)
    with open(POLICY_SAMPLE, encoding="utf-8") as shipped:
        assert output.read_text(encoding="utf-8") == shipped.read(), (
            "etc/nova_console/policy.yaml.sample is stale: run 'tox -e genpolicy'")


def test_sample_config_documents_the_policy_options():
    with open(SAMPLE, encoding="utf-8") as shipped:
        text = shipped.read()
    assert "[oslo_policy]" in text
    assert "#policy_file = policy.yaml" in text
