"""Fixtures of the functional tests: real RabbitMQ, separate service processes, Chromium.

- ``rabbitmq``: RabbitMQ on 127.0.0.1:5672 (started with `rabbitmq-server -detached` if
  it is not running; the session fails, never skips, if it cannot be reached). Every
  deployment gets a vhost of its own (`nova-console-test-<random>-<n>`), deleted after.
- ``module_deployments`` / ``deployments``: factories of ``Deployment`` objects (see
  deployment.py), stopped at the end of the module / test.
- ``postgres_url``: a fresh PostgreSQL database, dropped after the test.
- ``browser``: headless Chromium driven by selenium, one per module.

When a test fails, the tail of every service's log is added to its report.
"""
import contextlib
import os
import secrets
import shutil

import pytest

from tests.functional import deployment as deployment_mod

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--window-size=1024,768")


def pytest_configure(config):
    # The harness starts services with fork+exec (so that they die with the test run);
    # eventlet, imported by the code under test, warns about any fork.
    config.addinivalue_line("filterwarnings",
                            r"ignore:Using fork\(\) is a bad idea:DeprecationWarning")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/functional/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.functional)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, the tail of every running deployment's service logs goes in the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and deployment_mod.LIVE_DEPLOYMENTS:
        for deployment in list(deployment_mod.LIVE_DEPLOYMENTS):
            report.sections.append(("service logs: %s" % deployment.label,
                                    deployment.logs_report()))


# --- RabbitMQ ---------------------------------------------------------------------------

class RabbitVhosts:
    """Creates a fresh vhost per deployment; deletes what it created."""

    def __init__(self):
        self.prefix = "nova-console-test-%s" % secrets.token_hex(3)
        self.created = []
        self.counter = 1

    def new_transport_url(self):
        vhost = deployment_mod.create_vhost("%s-%d" % (self.prefix, self.counter))
        self.counter += 1
        self.created.append(vhost)
        return ("rabbit://guest:guest@%s:%d/%s" % (deployment_mod.RABBIT_HOST,
                                                   deployment_mod.RABBIT_PORT, vhost), vhost)

    def delete(self, vhost):
        if vhost in self.created:
            self.created.remove(vhost)
            deployment_mod.delete_vhost(vhost)

    def delete_all(self):
        for vhost in list(self.created):
            with contextlib.suppress(Exception):
                self.delete(vhost)


@pytest.fixture(scope="session")
def rabbitmq():
    """RabbitMQ on 127.0.0.1:5672, reachable (started if need be), as a vhost factory."""
    problem = deployment_mod.ensure_rabbitmq()
    if problem:
        pytest.fail("Functional tests need RabbitMQ: %s" % problem, pytrace=False)
    vhosts = RabbitVhosts()
    yield vhosts
    vhosts.delete_all()


# --- deployments ------------------------------------------------------------------------

class DeploymentFactory:
    def __init__(self, tmp_path_factory, rabbitmq):
        self.tmp_path_factory = tmp_path_factory
        self.rabbitmq = rabbitmq
        self.started = []

    def __call__(self, label="deployment", **kwargs):
        """A started Deployment (kwargs: see deployment.Deployment)."""
        workdir = self.tmp_path_factory.mktemp(label)
        transport_url, vhost = self.rabbitmq.new_transport_url()
        deployment = deployment_mod.Deployment(workdir, transport_url, label=label, **kwargs)
        deployment.vhost = vhost
        self.started.append(deployment)
        deployment.start()
        print("%s: logs in %s" % (label, deployment.log_dir))
        return deployment

    def stop_all(self):
        for deployment in reversed(self.started):
            deployment.stop()
            if deployment.vhost:
                with contextlib.suppress(Exception):
                    self.rabbitmq.delete(deployment.vhost)
        self.started = []


@pytest.fixture(scope="module")
def module_deployments(tmp_path_factory, rabbitmq):
    factory = DeploymentFactory(tmp_path_factory, rabbitmq)
    yield factory
    factory.stop_all()


@pytest.fixture
def deployments(tmp_path_factory, rabbitmq):
    factory = DeploymentFactory(tmp_path_factory, rabbitmq)
    yield factory
    factory.stop_all()


@pytest.fixture
def booted(cloud):
    """booted(name) -> id of an ACTIVE server of the module's `cloud` (a qemu compute
    host) whose guest has written its ready line; deleted after the test."""
    from tests.functional import test_qemu_console as qemu_tests

    created = []

    def boot(name):
        server_id = cloud.api.create_server(name)
        created.append(server_id)
        cloud.api.wait_for_status(server_id, "ACTIVE")
        qemu_tests.wait_until_booted(cloud, server_id, name)
        return server_id

    yield boot
    for server_id in created:
        cloud.api.request("DELETE", "/v2.1/servers/%s" % server_id)
    for server_id in created:
        cloud.api.wait_for_deleted(server_id)


@pytest.fixture(autouse=True)
def _services_stay_up():
    """After each test, every service that should run still runs (none crashed)."""
    yield
    for deployment in list(deployment_mod.LIVE_DEPLOYMENTS):
        deployment.check_running()


# --- PostgreSQL -------------------------------------------------------------------------

@pytest.fixture
def postgres_url():
    """A fresh database `nova_console_test_<random>` (skips if PostgreSQL is not reachable)."""
    problem = deployment_mod.postgres_unavailable_reason()
    if problem:
        pytest.skip(problem)
    url = deployment_mod.create_postgres_database()
    yield url
    deployment_mod.drop_postgres_database(url)


# --- the browser ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory):
    """Where screenshots for humans go."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip("Chromium is not installed (%s missing): apt-get install chromium "
                    "chromium-driver" % ", ".join(missing))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument("--user-data-dir=%s" % profile)
    service = Service(CHROMEDRIVER, log_output=str(profile) + ".chromedriver.log")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
