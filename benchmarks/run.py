"""nova_console's proxy benchmark: every target of the performance issue, side by side
with websockify and direct TCP, as ratios from ONE run on this machine.

    python benchmarks/run.py [--bench ../shared/bench] [--bench-home /tmp/benchhome]
                             [--workers 2] [--idle-sessions 9000] [--out results.md]

What it starts (all on 127.0.0.1, ports picked free, each stopped by its PID):
* a real deployment (stack.py): nova-consoleauth, nova-console-compute with the
  static driver pointing the server "bench" at the benchmark VNC server,
  nova-console-api, on RabbitMQ in a private vhost, SQLite;
* ../shared/bench/run_peers.py, which starts its RFB server, websockify (the
  standalone CLI, fork per connection), direct TCP and direct-ws, and the proxy
  under test (nova-novncproxy, restarted fresh before its memory test), and
  measures connect latency, single-session throughput and 200 sessions at once.
  Tokens come from the REST API (issue_token.py), so every session's connect
  includes check_token over RabbitMQ, and consoleauth's validate_console_port
  call to the compute host.
* then, with the same RFB server program on the same port, this script's own
  measurements (rfbclient.py): client->server throughput (masked frames),
  idle sessions held by one proxy process and their memory, check_token
  throughput with 50 concurrent callers, and console URL latency from the API.

Needs ../shared/bench set up: BENCH_HOME=/tmp/benchhome BENCH_SKIP_NOVA=1 sh setup.sh
"""
import argparse
import datetime
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import rfbclient  # noqa: E402
import serialclient  # noqa: E402
import stack  # noqa: E402


def log(*args):
    print("[%s]" % time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def pct(values, q):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))]


def tree_pids(pid):
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as stat:
                    data = stat.read()
            except OSError:
                continue
            ppid = int(data[data.rindex(b")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_rss_kib(pid):
    total = 0
    for member in tree_pids(pid):
        try:
            with open("/proc/%d/status" % member) as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Processes:
    """Processes this script started, stopped by PID."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.started = []

    def start(self, name, argv, env=None, shell=False, stdout=None):
        logfile = open(os.path.join(self.workdir, name + ".log"), "ab")
        process = subprocess.Popen(argv, env=env, shell=shell, stdin=subprocess.DEVNULL,
                                   stdout=stdout or logfile, stderr=logfile)
        self.started.append(process)
        return process

    def stop(self, process, grace=10.0):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                for pid in reversed(tree_pids(process.pid)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.wait()

    def stop_all(self):
        for process in reversed(self.started):
            self.stop(process)


def run_peers(args, deployment, workdir, token_cmd):
    """../shared/bench's side-by-side run; its results.json."""
    out_json = os.path.join(workdir, "run_peers.json")
    argv = [os.path.join(args.bench_home, "venv", "bin", "python"),
            os.path.join(args.bench, "run_peers.py"),
            "--peers", "direct,direct-ws,websockify,candidate",
            "--rfb-port", str(deployment.rfb_port),
            "--candidate-name", "nova_console",
            "--candidate-cmd", deployment.proxy_command(args.workers),
            "--candidate-port", str(deployment.proxy_port),
            "--candidate-token-cmd", token_cmd,
            "--candidate-note", "this project: nova-novncproxy, %d worker(s), tokens from the "
                                "REST API, check_token over RabbitMQ" % args.workers,
            "--k", str(args.k), "--rounds", str(args.rounds),
            "--latency-n", str(args.latency_n),
            "--workdir", os.path.join(workdir, "run_peers"), "--json", out_json,
            "--out", os.path.join(workdir, "run_peers.md")]
    env = dict(os.environ, BENCH_HOME=args.bench_home)
    log("run_peers.py (about 3-4 minutes)")
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as results:
        return json.load(results)


def start_rfbserver(args, processes, port):
    process = processes.start("rfbserver", [
        os.path.join(args.bench_home, "venv", "bin", "python"),
        os.path.join(args.bench, "rfbserver.py"), "--port", str(port)], stdout=subprocess.PIPE)
    line = process.stdout.readline().decode().split()
    if not line or line[0] != "LISTENING":
        raise RuntimeError("rfbserver did not start")
    return process


def start_websockify(args, processes, workdir, rfb_port):
    tokens = os.path.join(workdir, "websockify-tokens.cfg")
    with open(tokens, "w") as token_file:
        token_file.write("bench: 127.0.0.1:%d\n" % rfb_port)
    port = stack.free_port()
    process = processes.start("websockify", [
        os.path.join(args.bench_home, "venv", "bin", "python"),
        os.path.join(args.bench_home, "venv", "bin", "websockify"),
        "--token-plugin", "TokenFile", "--token-source", tokens, "127.0.0.1:%d" % port])
    if not stack.wait_listening(port, process):
        raise RuntimeError("websockify did not start")
    return process, "ws://127.0.0.1:%d/?token=bench" % port


def start_proxy(processes, deployment, workers):
    process = processes.start("nova-novncproxy", deployment.proxy_command(workers), shell=True)
    if not stack.wait_listening(deployment.proxy_port, process):
        raise RuntimeError("nova-novncproxy did not start")
    return process


def start_xvp_proxy(processes, deployment, workers):
    process = processes.start("nova-xvpvncproxy", deployment.xvp_command(workers), shell=True)
    if not stack.wait_listening(deployment.xvp_port, process):
        raise RuntimeError("nova-xvpvncproxy did not start")
    return process


def start_tcp_relay(processes, rfb_port, name="tcp-relay"):
    """tcp_relay.py in front of the RFB server (or another port): the reference for
    one bare relay hop."""
    return _start_listening(processes, name, [os.path.join(HERE, "tcp_relay.py"), "0",
                                              "127.0.0.1", str(rfb_port)])


def start_serial_echo(processes):
    """serialclient.py's echo server: the bench server's serial port."""
    return _start_listening(processes, "serial-echo",
                            [os.path.join(HERE, "serialclient.py"), "echo-server"])


def _start_listening(processes, name, argv):
    """A helper that prints "LISTENING <port>" once it listens; (process, port)."""
    process = processes.start(name, [sys.executable, *argv], stdout=subprocess.PIPE)
    line = process.stdout.readline().decode().split()
    if not line or line[0] != "LISTENING":
        raise RuntimeError("%s did not start" % name)
    return process, int(line[1])


def start_serial_proxy(processes, deployment, workers):
    process = processes.start("nova-serialproxy", deployment.serial_command(workers),
                              shell=True)
    if not stack.wait_listening(deployment.serial_proxy_port, process):
        raise RuntimeError("nova-serialproxy did not start")
    return process


def interleaved(args, targets, measure):
    """measure(target) for every target, args.rounds rounds in a rotating order;
    {name: {MBps: median, ratio: median of per-round ratios to "direct", rounds}}."""
    names = list(targets)
    rounds = {name: [] for name in names}
    for index in range(args.rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            rounds[name].append(measure(targets[name]()))
    result = {}
    for name, values in rounds.items():
        ratios = [v / d for v, d in zip(values, rounds["direct"])]
        result[name] = {"MBps": statistics.median(values), "ratio": statistics.median(ratios),
                        "rounds": values}
    return result


def measure_client_to_server(args, deployment, websockify_url, relay_port):
    """Masked frames to the RFB server: direct TCP, the bare relay (plain bytes),
    websockify and nova_console."""
    targets = {
        "direct": lambda: {"tcp": ("127.0.0.1", deployment.rfb_port)},
        "bare relay": lambda: {"tcp": ("127.0.0.1", relay_port)},
        "websockify": lambda: {"url": websockify_url},
        "nova_console": lambda: {"url": "ws://127.0.0.1:%d/?token=%s" % (
            deployment.proxy_port, deployment.issue_token())}}
    return interleaved(args, targets, lambda target: rfbclient.client_to_server_throughput(
        seconds=args.c2s_seconds, **target)["MBps"])


def measure_server_to_client(args, deployment, relay_port, workdir):
    """../shared/bench's throughput test (full-screen updates, one at a time) through
    direct TCP, the bare relay and nova_console, in rounds of their own."""
    out = os.path.join(workdir, "s2c.json")

    def throughput(target):
        subprocess.run([os.path.join(args.bench_home, "venv", "bin", "python"),
                        os.path.join(args.bench, "wsclient.py"), *target, "--tests",
                        "throughput", "--max-seconds", str(args.c2s_seconds), "--frames",
                        "1000000", "--quiet", "--json", out],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as results:
            return json.load(results)["throughput"]["MBps"]

    targets = {
        "direct": lambda: ["--tcp", "127.0.0.1:%d" % deployment.rfb_port],
        "bare relay": lambda: ["--tcp", "127.0.0.1:%d" % relay_port],
        "nova_console": lambda: ["--ws-url", "ws://127.0.0.1:%d/?token=%s" % (
            deployment.proxy_port, deployment.issue_token())]}
    return interleaved(args, targets, throughput)


def measure_xvp(args, deployment, relay_port):
    """Both directions through nova-xvpvncproxy (a Java viewer's CONNECT, then raw
    RFB), with direct TCP and the bare relay in the same interleaved rounds, by the
    same client (rfbclient.py: one full-screen update at a time one way, ClientCutText
    messages the other)."""
    targets = {
        "direct": lambda: {"tcp": ("127.0.0.1", deployment.rfb_port)},
        "bare relay": lambda: {"tcp": ("127.0.0.1", relay_port)},
        "xvp": lambda: {"xvp_url": deployment.console_url("xvpvnc")}}
    return {
        "server_to_client": interleaved(args, targets, lambda target: (
            rfbclient.server_to_client_throughput(seconds=args.c2s_seconds, **target)["MBps"])),
        "client_to_server": interleaved(args, targets, lambda target: (
            rfbclient.client_to_server_throughput(seconds=args.c2s_seconds, **target)["MBps"])),
    }


def measure_serial(args, deployment, relay_port):
    """nova-serialproxy ('binary' and 'base64') beside the bare relay and direct TCP, to
    the echo server, in interleaved rounds: keystroke echo latency, then a large paste
    echoed back."""
    def serial_url():
        return deployment.console_url("serial")

    targets = {
        "direct": lambda: {"tcp": ("127.0.0.1", deployment.serial_port)},
        "bare relay": lambda: {"tcp": ("127.0.0.1", relay_port)},
        "binary": lambda: {"url": serial_url(), "protocol": "binary"},
        "base64": lambda: {"url": serial_url(), "protocol": "base64"}}
    latency = {name: serialclient.echo_latency(count=args.latency_n, **target())
               for name, target in targets.items()}
    return {"latency": latency,
            "paste": interleaved(args, targets, lambda target: serialclient.paste_throughput(
                seconds=args.c2s_seconds, **target)["MBps"])}


def measure_idle_sessions(args, deployment, processes, proxy):
    """Idle sessions one fresh proxy process holds, and its RSS per session."""
    count = args.idle_sessions
    tokens = [deployment.issue_token() for _ in range(min(count, args.idle_tokens))]
    urls = ["ws://127.0.0.1:%d/?token=%s" % (deployment.proxy_port, tokens[i % len(tokens)])
            for i in range(count)]
    warm = rfbclient.Session(url=urls[0])  # first-use costs (RPC connections) out of the way
    warm.close()
    time.sleep(2)
    before = tree_rss_kib(proxy.pid)
    opened, errors, seconds = rfbclient.hold_idle_sessions(urls, in_flight=args.in_flight)
    time.sleep(2)
    after = tree_rss_kib(proxy.pid)
    result = {"sessions": count, "opened": len(opened), "failed": count - len(opened),
              "errors": errors[:3], "open_seconds": round(seconds, 1),
              "rss_before_kib": before, "rss_after_kib": after,
              "rss_per_session_kib": round((after - before) / max(len(opened), 1), 1),
              "distinct_tokens": len(tokens)}
    for sock in opened:
        sock.close()
    return result


def measure_check_token(args, deployment, workdir, per_message=False):
    """check_token_load.py against the deployment's consoleauth. per_message: the
    client capped at consoleauth 1.0, one check_token message per check (what a
    process sees from callers that are not in one process, or an old client)."""
    token_file = os.path.join(workdir, "check_token_tokens.txt")
    with open(token_file, "w") as tokens:
        for _ in range(args.callers):
            tokens.write(deployment.issue_token() + "\n")
    consoleauth = deployment.processes["nova-consoleauth"].pid
    cpu_before = process_cpu_seconds(consoleauth)
    output = subprocess.run(
        [sys.executable, os.path.join(HERE, "check_token_load.py"), deployment.conf,
         token_file, str(args.callers), str(args.check_token_seconds)]
        + (["--per-message"] if per_message else []),
        check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    # consoleauth's own CPU per check (warm-up calls included, so a bit high): the
    # rate one consoleauth process sustains with a core of its own is 1000 / this.
    calls = result["ok"] + result["refused"] + args.callers
    result["consoleauth_cpu_ms_per_call"] = round(
        1000 * (process_cpu_seconds(consoleauth) - cpu_before) / max(calls, 1), 2)
    return result


def process_cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_console_url(deployment, count):
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        deployment.console_url()
        latencies.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(pct(latencies, 99), 2), "calls": count}


def fmt(value, digits=1, suffix=""):
    if value is None:
        return "-"
    return ("%%.%df" % digits) % value + suffix


def table(peers, extra, args, meta):
    res = peers["results"]

    def lat(name):
        return res["latency"].get(name, {}).get("latency", {})

    def tput(name):
        values = [r[name]["throughput"]["MBps"] for r in res["throughput_rounds"]
                  if "MBps" in r.get(name, {}).get("throughput", {})]
        ratios = [r[name]["throughput"]["MBps"] / r["direct"]["throughput"]["MBps"]
                  for r in res["throughput_rounds"]
                  if "MBps" in r.get(name, {}).get("throughput", {})
                  and "MBps" in r.get("direct", {}).get("throughput", {})]
        return (statistics.median(values) if values else None,
                statistics.median(ratios) if ratios else None)

    def conc(name):
        return res["concurrency"].get(name, {}).get("concurrency", {})

    direct_agg = conc("direct").get("agg_MBps")
    rows = []

    def row(figure, target, ours, websockify, direct, met):
        rows.append("| %s | %s | %s | %s | %s | %s |" % (
            figure, target, ours, websockify, direct,
            "-" if met is None else ("yes" if met else "**no**")))

    ours, wsfy = "nova_console", "websockify"
    t_ours, t_wsfy, t_direct = tput(ours), tput(wsfy), tput("direct")
    row("server→client throughput, share of direct TCP", "≥ 75 %",
        "%s (%s MB/s)" % (fmt(100 * (t_ours[1] or 0), 0, " %"), fmt(t_ours[0], 0)),
        "%s (%s MB/s)" % (fmt(100 * (t_wsfy[1] or 0), 0, " %"), fmt(t_wsfy[0], 0)),
        "100 %% (%s MB/s)" % fmt(t_direct[0], 0), t_ours[1] is not None and t_ours[1] >= 0.75)
    c2s = extra.get("client_to_server", {})

    def share(result, name):
        entry = result.get(name, {})
        return "%s (%s MB/s)" % (fmt(100 * entry.get("ratio", 0), 0, " %"),
                                 fmt(entry.get("MBps"), 0))
    row("client→server (masked frames) throughput, share of direct TCP", "≥ 60 %",
        share(c2s, ours), share(c2s, wsfy),
        "100 %% (%s MB/s)" % fmt(c2s.get("direct", {}).get("MBps"), 0),
        c2s.get(ours, {}).get("ratio", 0) >= 0.60)
    s2c = extra.get("server_to_client", {})
    row("reference, server→client: a bare relay hop (tcp_relay.py: plain TCP, splice, "
        "no WebSocket) vs nova_console, rounds of their own", "–",
        "%s; bare relay %s" % (share(s2c, ours), share(s2c, "bare relay")), "-",
        "100 %% (%s MB/s)" % fmt(s2c.get("direct", {}).get("MBps"), 0), None)
    row("reference, client→server: the bare relay hop (copies, no unmasking), same rounds "
        "as above", "–", "bare relay %s" % share(c2s, "bare relay"), "-", "-", None)
    idle = extra.get("idle", {})
    row("idle sessions held at once by one proxy process (all handshakes ok)", "≥ 9,000",
        "%s of %s ok" % (idle.get("opened", "-"), idle.get("sessions", "-")),
        "n/a: a process per session (%s KiB each)" % fmt(conc(wsfy).get("pss_per_session_kib"), 0),
        "-", idle.get("opened", 0) >= 9000 and idle.get("failed", 1) == 0)
    row("proxy memory per idle session (RSS)", "≤ 64 KiB",
        "%s KiB (at %s sessions); %s KiB at K=%d" % (
            fmt(idle.get("rss_per_session_kib"), 1), idle.get("opened", "-"),
            fmt(conc(ours).get("rss_per_session_kib"), 1), args.k),
        "%s KiB PSS at K=%d" % (fmt(conc(wsfy).get("pss_per_session_kib"), 0), args.k), "-",
        idle.get("rss_per_session_kib") is not None and idle["rss_per_session_kib"] <= 64)
    l_ours, l_wsfy, l_direct = lat(ours), lat(wsfy), lat("direct")
    row("WebSocket connect → RFB ServerInit, median / p99 (check_token over RabbitMQ)",
        "≤ 10 ms / ≤ 30 ms",
        "%s / %s ms" % (fmt(l_ours.get("median_ms"), 2), fmt(l_ours.get("p99_ms"), 2)),
        "%s / %s ms (token file, no RPC)" % (fmt(l_wsfy.get("median_ms"), 2),
                                             fmt(l_wsfy.get("p99_ms"), 2)),
        "%s / %s ms" % (fmt(l_direct.get("median_ms"), 2), fmt(l_direct.get("p99_ms"), 2)),
        (l_ours.get("median_ms") or 99) <= 10 and (l_ours.get("p99_ms") or 99) <= 30)
    c_ours, c_wsfy = conc(ours), conc(wsfy)

    def agg(c):
        if not c.get("agg_MBps") or not direct_agg:
            return "-"
        return "%s (%s MB/s), slowest %s %% of median" % (
            fmt(100 * c["agg_MBps"] / direct_agg, 0, " %"), fmt(c["agg_MBps"], 0),
            fmt(100 * c["per_session_MBps_min"] / c["per_session_MBps_median"], 0)
            if c.get("per_session_MBps_median") else "-")
    met = None
    if c_ours.get("agg_MBps") and direct_agg and c_ours.get("per_session_MBps_median"):
        met = (c_ours["agg_MBps"] / direct_agg >= 0.75 and c_ours["per_session_MBps_min"]
               >= 0.25 * c_ours["per_session_MBps_median"] and not c_ours.get("failed"))
    row("%d sessions streaming at once: aggregate share of direct TCP's; fairness" % args.k,
        "≥ 75 %; slowest ≥ 25 % of median", agg(c_ours) + " (%s/%s open)" % (
            c_ours.get("ok", "-"), c_ours.get("k", "-")), agg(c_wsfy),
        "100 %% (%s MB/s)" % fmt(direct_agg, 0), met)
    xvp = extra.get("xvp", {})
    for direction, arrow in (("server_to_client", "server→client"),
                             ("client_to_server", "client→server")):
        rounds = xvp.get(direction, {})
        row("nova-xvpvncproxy (HTTP CONNECT, then raw RFB), %s; bare relay and direct TCP "
            "in the same rounds" % arrow, "–",
            "%s; bare relay %s" % (share(rounds, "xvp"), share(rounds, "bare relay")), "-",
            "100 %% (%s MB/s)" % fmt(rounds.get("direct", {}).get("MBps"), 0), None)
    serial = extra.get("serial", {})
    latency = serial.get("latency", {})

    def echo(name):
        return "%s / %s ms" % (fmt(latency.get(name, {}).get("median_ms"), 2),
                               fmt(latency.get(name, {}).get("p99_ms"), 2))

    row("nova-serialproxy, keystroke echo round trip, median / p99 (binary; base64; bare "
        "relay)", "–", "%s; base64 %s; bare relay %s" % (echo("binary"), echo("base64"),
                                                         echo("bare relay")),
        "-", echo("direct"), None)
    paste = serial.get("paste", {})
    row("nova-serialproxy, a large paste echoed back (16 KiB messages), binary; base64; "
        "bare relay", "–", "%s; base64 %s; bare relay %s" % (
            share(paste, "binary"), share(paste, "base64"), share(paste, "bare relay")), "-",
        "100 %% (%s MB/s)" % fmt(paste.get("direct", {}).get("MBps"), 0), None)
    url = extra.get("console_url", {})
    row("console URL issued by the API (two RPC hops), median / p99", "≤ 15 ms median",
        "%s / %s ms" % (fmt(url.get("median_ms"), 2), fmt(url.get("p99_ms"), 2)), "-", "-",
        (url.get("median_ms") or 99) <= 15)
    ct, per_message = extra.get("check_token", {}), extra.get("check_token_per_message", {})
    row("check_token throughput, one consoleauth process, %d callers" % args.callers,
        "≥ 1,000 / s", "%s / s (%s refused, %s errors; consoleauth CPU %s ms per check); "
        "one message per check ([upgrade_levels] consoleauth = 1.0): %s / s (%s ms)" % (
            fmt(ct.get("per_second"), 0), ct.get("refused", "-"), ct.get("errors", "-"),
            fmt(ct.get("consoleauth_cpu_ms_per_call"), 2), fmt(per_message.get("per_second"), 0),
            fmt(per_message.get("consoleauth_cpu_ms_per_call"), 2)),
        "-", "-", (ct.get("per_second") or 0) >= 1000)
    lines = ["# nova_console proxy benchmark (%s)" % meta["date"], "",
             "Machine: %s, %d cores, %s GiB, load average %s at start, %s at end. Python %s. "
             "Proxy under test: nova-novncproxy with [console] workers = %d. One run; every "
             "ratio is to direct TCP measured in the same run." % (
                 meta["cpu"], meta["cores"], meta["mem_gib"], meta["load_start"],
                 meta["load_end"], meta["python"], args.workers), "",
             "| figure | target | nova_console | websockify | direct TCP | met |",
             "|---|---|---|---|---|---|"] + rows
    lines += ["", "Idle-session test: %s sessions opened by one client process, %d handshakes "
              "in flight, %s distinct tokens (a token stays valid for its TTL and every session "
              "still makes its own check_token call), one proxy process; %s s to open them all. "
              "Errors: %s" % (idle.get("sessions"), args.in_flight, idle.get("distinct_tokens"),
                              idle.get("open_seconds"), idle.get("errors") or "none"),
              "", "Raw results: %s" % meta["workdir"]]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(os.path.dirname(REPO), "shared", "bench"))
    parser.add_argument("--bench-home", default=os.environ.get("BENCH_HOME", "/tmp/benchhome"))
    parser.add_argument("--workdir")
    parser.add_argument("--workers", type=int, default=2,
                        help="[console] workers of the proxy for run_peers' phases")
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-n", type=int, default=100)
    parser.add_argument("--c2s-seconds", type=float, default=2.0)
    parser.add_argument("--idle-sessions", type=int, default=9000)
    parser.add_argument("--idle-tokens", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--check-token-seconds", type=float, default=5.0)
    parser.add_argument("--url-calls", type=int, default=100)
    parser.add_argument("--skip-peers", action="store_true", help="only this script's phases")
    parser.add_argument("--out", help="also write the table here")
    args = parser.parse_args()
    args.bench, args.bench_home = os.path.abspath(args.bench), os.path.abspath(args.bench_home)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = os.path.abspath(args.workdir or os.path.join(args.bench_home, "nova_console-runs",
                                                           stamp))
    os.makedirs(workdir, exist_ok=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "cores": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "cpu": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                         if line.startswith("model name")), platform.machine()),
            "load_start": open("/proc/loadavg").read().split()[0], "workdir": workdir}
    processes = Processes(workdir)
    serial_echo, serial_echo_port = start_serial_echo(processes)
    deployment = stack.Stack(os.path.join(workdir, "deployment"), stack.free_port(),
                             stack.free_port(), serial_port=serial_echo_port)
    extra = {}
    try:
        log("starting the deployment (RabbitMQ vhost %s)" % deployment.vhost)
        deployment.start()
        token_cmd = "%s -s %s %d %s" % (sys.executable, os.path.join(HERE, "issue_token.py"),
                                        deployment.api_port, deployment.server_id)
        peers = {"results": {"latency": {}, "throughput_rounds": [], "concurrency": {}}}
        if not args.skip_peers:
            peers = run_peers(args, deployment, workdir, token_cmd)
        log("own phases: RFB server, websockify, nova-novncproxy")
        rfb = start_rfbserver(args, processes, deployment.rfb_port)
        websockify, websockify_url = start_websockify(args, processes, workdir,
                                                      deployment.rfb_port)
        relay, relay_port = start_tcp_relay(processes, deployment.rfb_port)
        proxy = start_proxy(processes, deployment, args.workers)
        log("client->server throughput")
        extra["client_to_server"] = measure_client_to_server(args, deployment, websockify_url,
                                                             relay_port)
        log("server->client throughput beside the bare relay")
        extra["server_to_client"] = measure_server_to_client(args, deployment, relay_port,
                                                             workdir)
        log("console URL latency")
        extra["console_url"] = measure_console_url(deployment, args.url_calls)
        log("check_token throughput")
        extra["check_token"] = measure_check_token(args, deployment, workdir)
        extra["check_token_per_message"] = measure_check_token(args, deployment, workdir,
                                                               per_message=True)
        log("nova-xvpvncproxy, both directions, beside the bare relay")
        xvp_proxy = start_xvp_proxy(processes, deployment, args.workers)
        extra["xvp"] = measure_xvp(args, deployment, relay_port)
        processes.stop(xvp_proxy)
        log("nova-serialproxy, binary and base64, beside the bare relay")
        serial_relay, serial_relay_port = start_tcp_relay(processes, deployment.serial_port,
                                                          name="serial-relay")
        serial_proxy = start_serial_proxy(processes, deployment, args.workers)
        extra["serial"] = measure_serial(args, deployment, serial_relay_port)
        processes.stop(serial_proxy)
        processes.stop(proxy)
        log("idle sessions: %d through one fresh proxy process" % args.idle_sessions)
        proxy = start_proxy(processes, deployment, 1)
        extra["idle"] = measure_idle_sessions(args, deployment, processes, proxy)
        del rfb, websockify, relay, serial_relay, serial_echo
    finally:
        processes.stop_all()
        deployment.stop()
    meta["load_end"] = open("/proc/loadavg").read().split()[0]
    with open(os.path.join(workdir, "extra.json"), "w") as out:
        json.dump(extra, out, indent=1)
    text = table(peers, extra, args, meta)
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
