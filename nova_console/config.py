"""Command-line and config-file parsing plus logging, shared by every entry point."""
from oslo_log import log as logging

from nova_console import conf as nc_conf

CONF = nc_conf.CONF
DOMAIN = "nova_console"

_LOGGING_REGISTERED = False


def parse_args(argv, default_config_files=None):
    """Load options from argv (--config-file, --config-dir, --debug, ...)."""
    global _LOGGING_REGISTERED
    if not _LOGGING_REGISTERED:
        logging.register_options(CONF)
        _LOGGING_REGISTERED = True
    logging.set_defaults(default_log_levels=logging.get_default_log_levels() + [
        "websockify=WARN", "alembic=WARN"])
    CONF(argv[1:], project=DOMAIN, default_config_files=default_config_files)
    logging.setup(CONF, DOMAIN)
