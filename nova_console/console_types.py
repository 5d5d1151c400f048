"""Every console type Nova knows, in one table, read by every service.

* The API: which legacy action (os-getVNCConsole...) and which remote-consoles
  protocol take a type, from which microversion, and whether it can be served.
* The compute manager: which RPC method asks for it, which driver method finds
  its console server, which option turns it on, which base URL and URL shape
  its console URL gets.
* The proxies: the console types each serves (a token of another type is
  refused by a proxy).

`proxy` names the service that serves a type's console URL: one of this project's
proxies, or, for webmks and spice-direct, a proxy of the operator's (VMware's MKS
proxy, a native SPICE proxy) that looks tokens up in os-console-auth-tokens. A type
with `gone` set is one Nova no longer serves (RDP, with the Hyper-V driver): the API
answers it 400 with that reason.
"""
import dataclasses
import typing
import urllib.parse


def token_query_url(base_url, token):
    """Most consoles: '?token=<token>' added to the base URL's query."""
    return _add_query(base_url, {"token": token})


def novnc_path_url(base_url, token):
    """noVNC's: the token goes, as '?token=...', into its 'path' parameter (the path
    noVNC opens its WebSocket on), added to whatever query the base URL has."""
    return _add_query(base_url, {"path": "?token=%s" % token})


def _add_query(base_url, params):
    parts = urllib.parse.urlsplit(base_url)
    added = urllib.parse.urlencode(params)
    query = "%s&%s" % (parts.query, added) if parts.query else added
    return urllib.parse.urlunsplit(parts._replace(query=query))


@dataclasses.dataclass(frozen=True)
class ConsoleType:
    name: str                    # the type users ask for: "novnc"
    protocol: str                # its remote-consoles protocol: "vnc"
    action: str | None           # the legacy server action that gives it, if any
    min_version: str             # the microversion from which remote-consoles gives it
    rpc_method: str              # the compute RPC method (and driver method) for it
    enabled_option: tuple | None  # (group, name) of the option that turns it on
    base_url_option: tuple | None  # (group, name) of its proxy's public base URL
    url: typing.Callable | None  # (base_url, token) -> the console URL
    proxy: str | None            # the service that serves its URL
    gone: str | None = None      # why it is no longer served, if it is not
    client: str = ""             # what opens its URL, for people


REMOTE_CONSOLES_MIN_VERSION = "2.6"
MKS_MIN_VERSION = "2.8"
SPICE_DIRECT_MIN_VERSION = "2.99"

TYPES = (
    ConsoleType("novnc", "vnc", "os-getVNCConsole", REMOTE_CONSOLES_MIN_VERSION,
                "get_vnc_console", ("vnc", "enabled"), ("vnc", "novncproxy_base_url"),
                novnc_path_url, "nova-novncproxy", client="a browser (noVNC)"),
    ConsoleType("xvpvnc", "vnc", "os-getVNCConsole", REMOTE_CONSOLES_MIN_VERSION,
                "get_vnc_console", ("vnc", "enabled"), ("vnc", "xvpvncproxy_base_url"),
                token_query_url, "nova-xvpvncproxy",
                client="a Java VNC viewer (nova-xvpvncviewer)"),
    ConsoleType("spice-html5", "spice", "os-getSPICEConsole", REMOTE_CONSOLES_MIN_VERSION,
                "get_spice_console", ("spice", "enabled"), ("spice", "html5proxy_base_url"),
                token_query_url, "nova-spicehtml5proxy", client="a browser (spice-html5)"),
    ConsoleType("spice-direct", "spice", None, SPICE_DIRECT_MIN_VERSION,
                "get_spice_console", ("spice", "enabled"),
                ("spice", "spice_direct_proxy_base_url"), token_query_url,
                "a native SPICE proxy", client="a native SPICE client (remote-viewer)"),
    ConsoleType("rdp-html5", "rdp", "os-getRDPConsole", REMOTE_CONSOLES_MIN_VERSION,
                "get_rdp_console", None, None, token_query_url, None,
                gone="RDP consoles are no longer available: only the Hyper-V driver had "
                     "them, and Nova removed it."),
    ConsoleType("serial", "serial", "os-getSerialConsole", REMOTE_CONSOLES_MIN_VERSION,
                "get_serial_console", ("serial_console", "enabled"),
                ("serial_console", "base_url"), token_query_url, "nova-serialproxy",
                client="a serial console page (a WebSocket, binary or base64)"),
    ConsoleType("webmks", "mks", None, MKS_MIN_VERSION, "get_mks_console",
                ("mks", "enabled"), ("mks", "mksproxy_base_url"), token_query_url,
                "an MKS proxy", client="a WebMKS client"),
)

BY_NAME = {console_type.name: console_type for console_type in TYPES}


def get(name):
    """The ConsoleType called `name`, or None."""
    return BY_NAME.get(name)


def for_action(action):
    """The console types a legacy action takes (empty if it is no console action)."""
    return tuple(t for t in TYPES if t.action == action)


def actions():
    return tuple(dict.fromkeys(t.action for t in TYPES if t.action))


def protocols():
    """Every remote-consoles protocol, in the table's order."""
    return tuple(dict.fromkeys(t.protocol for t in TYPES))


def served_by(proxy):
    """The names of the console types `proxy` serves."""
    return tuple(t.name for t in TYPES if t.proxy == proxy)
