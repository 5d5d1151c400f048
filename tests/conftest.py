"""Fixtures shared by unit and functional tests."""
import pytest

from nova_console import conf as nc_conf
from nova_console.db import api as db_api
from nova_console.db import migration
from nova_console import rpc

CONF = nc_conf.CONF


@pytest.fixture(autouse=True)
def conf():
    """oslo.config's global CONF, parsed empty; every override is undone after the test."""
    CONF([], project="nova_console", default_config_files=[])
    yield CONF
    CONF.reset()


@pytest.fixture
def database(tmp_path, conf):
    """A fresh SQLite database at the current schema."""
    conf.set_override("connection", "sqlite:///%s" % (tmp_path / "nova_console.sqlite"),
                      group="database")
    db_api.dispose_engine()
    migration.db_sync()
    yield
    db_api.dispose_engine()


@pytest.fixture
def fake_transport(conf):
    """oslo.messaging's in-memory transport (one process only)."""
    rpc.cleanup()
    rpc.init(url="fake://")
    yield
    rpc.cleanup()
