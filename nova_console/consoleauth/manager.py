"""nova-consoleauth: issues, checks and revokes console tokens.

Tokens live in the shared database (only their sha256), so any number of
consoleauth workers, on any hosts, serve the same tokens.
"""
import time

import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console.compute import rpcapi as compute_rpcapi
from nova_console.db import api as db
from nova_console import utils

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

# What check_token hands to a proxy: where to connect, never the token itself.
_PUBLIC_FIELDS = ("console_type", "host", "port", "tls_port", "internal_access_path",
                  "instance_uuid", "access_url_base", "expires")


class ConsoleAuthManager:
    target = messaging.Target(version="1.0")

    def __init__(self, compute_api=None):
        self.compute_api = compute_api or compute_rpcapi.ComputeAPI()

    def authorize_console(self, context, token, console_type, host, port,
                          internal_access_path, instance_uuid, access_url=None,
                          tls_port=None):
        expires = time.time() + CONF.consoleauth.token_ttl
        db.console_token_create({
            "token_hash": utils.hash_token(token), "console_type": console_type,
            "host": host, "port": int(port), "tls_port": tls_port,
            "internal_access_path": internal_access_path, "instance_uuid": instance_uuid,
            "access_url_base": access_url, "expires": expires})
        LOG.info("Authorized %s console token %s for instance %s on %s:%s",
                 console_type, utils.mask_token(token), instance_uuid, host, port)

    def check_token(self, context, token):
        if not isinstance(token, str) or not token:
            LOG.info("Rejected a request without a token")
            return None
        row = db.console_token_get_valid_with_host(utils.hash_token(token))
        if row is None:
            LOG.info("Token %s is unknown, expired or revoked", utils.mask_token(token))
            return None
        if not self._port_still_valid(context, row):
            LOG.warning("Token %s points at port %s which is no longer the console of "
                        "instance %s", utils.mask_token(token), row["port"],
                        row["instance_uuid"])
            return None
        LOG.info("Token %s accepted for instance %s", utils.mask_token(token),
                 row["instance_uuid"])
        return {field: row[field] for field in _PUBLIC_FIELDS}

    def _port_still_valid(self, context, row):
        """Ask the instance's compute host whether the port is still its console.

        A port freed by a deleted or migrated instance may be reused by another
        instance; without this check an old token would open that console.
        A deleted instance, and any failure to ask, count as "no" (fail closed).
        row["instance_host"] is the host of the live instance (None if deleted),
        read in the same query as the token.
        """
        host = row["instance_host"]
        if not host:
            return False
        try:
            return bool(self.compute_api.validate_console_port(
                context, {"uuid": row["instance_uuid"], "host": host}, row["port"],
                row["console_type"]))
        except messaging.MessagingTimeout:
            LOG.warning("Compute host %s did not answer validate_console_port in time", host)
        except Exception as exc:  # any remote or transport error: refuse the token
            LOG.warning("validate_console_port on %s failed: %s", host,
                        exc.__class__.__name__)
        return False

    def delete_tokens_for_instance(self, context, instance_uuid):
        count = db.console_token_delete_for_instance(instance_uuid)
        LOG.info("Revoked %d console token(s) of instance %s", count, instance_uuid)
        return count

    def purge_expired_tokens(self):
        """Periodic task: drop expired rows so the table does not grow forever."""
        count = db.console_token_purge_expired()
        if count:
            LOG.info("Purged %d expired console token(s)", count)
        return count
