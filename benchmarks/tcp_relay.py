"""The bare minimum of a relay, as a reference for what one user-space hop costs on
this machine: plain TCP in and out (no WebSocket framing, no masking, no token),
two OS threads per connection with blocking sockets, console -> client moved
with splice() through a pipe (the bytes never enter the process), client ->
console copied through a 4 MiB buffer.

    python tcp_relay.py LISTEN_PORT TARGET_HOST TARGET_PORT

Prints "LISTENING <port>" once it accepts connections. The benchmark measures the
same throughput tests through it, beside direct TCP and the proxy: no proxy that
reads its bytes in user space can beat this.
"""
import fcntl
import os
import socket
import sys
import threading

PIPE_SIZE = 1024 * 1024
COPY_SIZE = 4 * 1024 * 1024
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def splice_pump(source, target):
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, F_SETPIPE_SZ, PIPE_SIZE)
        while True:
            size = os.splice(source.fileno(), write_end, PIPE_SIZE)
            if not size:
                break
            while size:
                size -= os.splice(read_end, target.fileno(), size)
    finally:
        os.close(read_end)
        os.close(write_end)


def copy_pump(source, target):
    buf = bytearray(COPY_SIZE)
    with memoryview(buf) as view:
        while True:
            size = source.recv_into(buf)
            if not size:
                break
            target.sendall(view[:size])


def pump(function, source, target):
    try:
        function(source, target)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    listener = socket.create_server(("127.0.0.1", listen_port), backlog=128)
    print("LISTENING %d" % listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        console = socket.create_connection((host, port))
        for sock in (client, console):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(copy_pump, client, console), daemon=True).start()
        threading.Thread(target=pump, args=(splice_pump, console, client), daemon=True).start()


if __name__ == "__main__":
    main()
