"""check_token throughput of the deployment's consoleauth over RabbitMQ: CALLERS green
threads call check_token back to back (valid tokens, so every call also makes
consoleauth ask the compute host, validate_console_port) for SECONDS, through
consoleauth's RPC client as a proxy uses it: concurrent checks share
check_tokens messages. With --per-message the client is capped at consoleauth
1.0: one check_token message per check. Prints JSON.

    python check_token_load.py CONFIG_FILE TOKEN_FILE CALLERS SECONDS [--per-message]
"""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from nova_console import config  # noqa: E402
from nova_console import context  # noqa: E402
from nova_console import rpc  # noqa: E402
from nova_console.consoleauth import rpcapi  # noqa: E402


def main():
    conf_file, token_file, callers, seconds = sys.argv[1:5]
    config.parse_args([sys.argv[0], "--config-file", conf_file])
    if "--per-message" in sys.argv[5:]:
        config.CONF.set_override("consoleauth", "1.0", group="upgrade_levels")
    rpc.init()
    tokens = [line.strip() for line in open(token_file) if line.strip()]
    api = rpcapi.ConsoleAuthAPI()
    ctxt = context.get_admin_context()
    for token in tokens[:int(callers)]:  # warm up: connections, reply queues
        api.check_token(ctxt, token)
    counts = {"ok": 0, "refused": 0, "errors": 0}
    deadline = time.monotonic() + float(seconds)

    def caller(index):
        i = index
        while time.monotonic() < deadline:
            try:
                result = api.check_token(ctxt, tokens[i % len(tokens)])
                counts["ok" if result else "refused"] += 1
            except Exception:
                counts["errors"] += 1
            i += int(callers)

    started = time.monotonic()
    pool = eventlet.GreenPool(int(callers))
    for index in range(int(callers)):
        pool.spawn_n(caller, index)
    pool.waitall()
    elapsed = time.monotonic() - started
    counts.update(seconds=round(elapsed, 2), callers=int(callers),
                  per_second=round(counts["ok"] / elapsed, 1))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
