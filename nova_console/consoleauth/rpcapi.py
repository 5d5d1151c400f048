"""Client side of the consoleauth RPC API."""
import oslo_messaging as messaging

from nova_console import conf as nc_conf
from nova_console import consoleauth
from nova_console import rpc

CONF = nc_conf.CONF


class ConsoleAuthAPI:
    """Client side of the consoleauth RPC API.

    API version history:

        * 1.0 - Initial version: authorize_console, check_token,
                delete_tokens_for_instance.
    """

    VERSION = "1.0"

    def __init__(self):
        target = messaging.Target(topic=consoleauth.TOPIC, version=self.VERSION)
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.consoleauth)

    def authorize_console(self, ctxt, token, console_type, host, port, internal_access_path,
                          instance_uuid, access_url=None, tls_port=None):
        # call: the console URL must not be handed out before its token is stored.
        return self.client.prepare().call(
            ctxt, "authorize_console", token=token, console_type=console_type, host=host,
            port=port, internal_access_path=internal_access_path,
            instance_uuid=instance_uuid, access_url=access_url, tls_port=tls_port)

    def check_token(self, ctxt, token):
        return self.client.prepare().call(ctxt, "check_token", token=token)

    def delete_tokens_for_instance(self, ctxt, instance_uuid):
        # call, not cast: DELETE /servers/{id} answers only once no token of the
        # instance can open a console any more.
        return self.client.prepare().call(ctxt, "delete_tokens_for_instance",
                                          instance_uuid=instance_uuid)
