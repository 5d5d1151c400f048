"""Command-line and config-file parsing plus logging, shared by every entry point."""
from importlib import metadata as importlib_metadata
import os
import sys

from oslo_config import cfg
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
    try:
        CONF(argv[1:], project=DOMAIN, version=version_string(),
             default_config_files=default_config_files)
        logging.setup(CONF, DOMAIN)  # reads [DEFAULT] debug, log_file...: values checked
        read_every_option()
    except CONFIG_ERRORS as exc:
        exit_on_config_error(argv[0], exc)


def version_string():
    """The installed version of nova_console, as every script's --version prints it."""
    try:
        return importlib_metadata.version("nova_console")
    except importlib_metadata.PackageNotFoundError:  # run from a source tree
        return "unknown (not installed)"


def read_every_option():
    """Read every registered option once: oslo.config checks a value only when it is
    read, so a wrong one ([console] workers = two) fails here, as one line, not in the
    middle of the service's start with a traceback."""
    for name in CONF:
        value = CONF[name]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in value:
                value[option]  # noqa: B018 (read for its check)


# A configuration an operator got wrong: a file missing, unreadable or not INI, a
# value of the wrong type, a required option unset. Reported without a traceback.
CONFIG_ERRORS = (cfg.ConfigFilesNotFoundError, cfg.ConfigFileParseError,
                 cfg.ConfigDirNotFoundError, cfg.ConfigFileValueError, cfg.RequiredOptError)


def exit_on_config_error(program, exc):
    """End the process with one line on stderr and status 2 (argparse's for a usage
    error): the reason is all an operator needs, a traceback would hide it."""
    reason = " ".join(str(exc).split())
    sys.stderr.write("%s: error: %s\n" % (os.path.basename(program or DOMAIN), reason))
    raise SystemExit(2)


def policy_enforcer():
    """The `oslo.policy.enforcer` entry point of the oslopolicy tools (policy-generator,
    validator, list-redundant): the REST API's enforcer, its options read from the
    default config files (/etc/nova_console/nova_console.conf), so that the tools see
    the operator's [oslo_policy] policy_file as the API does."""
    from nova_console.api import policy  # only these tools need it here

    CONF([], project=DOMAIN)
    return policy.get_enforcer()
