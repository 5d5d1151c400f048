"""service.run_until_signalled: how every service process runs."""
import subprocess
import sys
import textwrap


def test_a_started_service_freezes_its_objects_and_stops_on_sigterm():
    """Objects made at start leave the garbage collector's generations (no full
    collection walks them again), and SIGTERM runs stop() once."""
    program = textwrap.dedent("""
        import gc, os, signal, threading
        from nova_console import service
        held = []

        def start():
            held.extend({"option": i} for i in range(10000))
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

        def stop():
            print("frozen", gc.get_freeze_count(), "stopped", flush=True)

        service.run_until_signalled(start, stop)
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == "frozen" and int(words[1]) > 10000 and words[2] == "stopped"
