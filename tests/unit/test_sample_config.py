"""The shipped samples (config, policy) are what the oslo generators make from the code."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ETC = os.path.join(ROOT, "etc", "nova_console")
SAMPLE = os.path.join(ETC, "nova_console.conf.sample")

# (generator script, its config file, the sample it writes, the tox env that remakes it)
GENERATED_SAMPLES = [
    ("oslo-config-generator", "nova_console-config-generator.conf", SAMPLE, "genconfig"),
    ("oslopolicy-sample-generator", "nova_console-policy-generator.conf",
     os.path.join(ETC, "policy.yaml.sample"), "genpolicy"),
]


@pytest.mark.parametrize("generator, generator_conf, sample, tox_env", GENERATED_SAMPLES,
                         ids=[tox_env for *_, tox_env in GENERATED_SAMPLES])
def test_sample_is_up_to_date(tmp_path, generator, generator_conf, sample, tox_env):
    output = tmp_path / os.path.basename(sample)
    subprocess.run([os.path.join(os.path.dirname(sys.executable), generator), "--config-file",
                    os.path.join(ETC, generator_conf), "--output-file", str(output)],
                   check=True, cwd=ROOT, capture_output=True)
    with open(sample, encoding="utf-8") as shipped:
        assert output.read_text(encoding="utf-8") == shipped.read(), (
            "%s is stale: run 'tox -e %s'" % (os.path.relpath(sample, ROOT), tox_env))


def test_sample_config_documents_novas_option_names():
    with open(SAMPLE, encoding="utf-8") as shipped:
        text = shipped.read()
    for expected in ("[vnc]", "#novncproxy_base_url = http://127.0.0.1:6080/vnc_lite.html",
                     "[consoleauth]", "#token_ttl = 600", "#enforce_session_timeout = false",
                     "[console]", "#allowed_origins =", "[database]", "#connection = ",
                     "#transport_url = rabbit://", "#osapi_compute_listen_port = 8774"):
        assert expected in text


def test_sample_config_documents_the_policy_and_service_options():
    with open(SAMPLE, encoding="utf-8") as shipped:
        text = shipped.read()
    for expected in ("[oslo_policy]", "#policy_file = policy.yaml",
                     "#graceful_shutdown_timeout = 5", "[healthcheck]",
                     "Note: This option can be changed without restarting."):
        assert expected in text
