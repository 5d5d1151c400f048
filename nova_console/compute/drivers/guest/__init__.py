"""The guest that hypervisor drivers boot: a floppy image whose boot sector shows a name.

``boot.asm`` (next to this file) is assembled with nasm once per process, with an empty
name slot; each instance's image is that sector with the instance's name patched into
the slot, padded to a 1.44 MB floppy (a sparse file: 4 KiB on disk). The guest shows the
name large on its VGA text screen, writes ``ready_line(name)`` to its first serial port,
then echoes every byte it receives there.

Why patch rather than assemble per instance: the name never reaches an assembler
(no quoting, no injection into source), a spawn costs a file write instead of a nasm
run, and nasm is needed once per process. The slot's place comes from NAME_MAX, which
this module passes to nasm, and is checked on every template.
"""
import os
import shutil
import subprocess
import tempfile
import threading

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot.asm")
IMAGE_NAME = "boot.img"
NAME_MAX = 64
SECTOR_SIZE = 512
FLOPPY_SIZE = 1474560
_NAME_SLOT = SECTOR_SIZE - 2 - (NAME_MAX + 1)  # just before the 0x55AA signature
_ASSEMBLE_TIMEOUT = 30

_lock = threading.Lock()
_template = None


class GuestImageError(Exception):
    """The guest image cannot be built (nasm missing or failing, or a bad destination)."""


def guest_name(name):
    """The name as the guest shows it: printable ASCII ('?' for anything else), at most
    NAME_MAX characters (a longer name is cut and ends with '...')."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in name)
    if len(text) > NAME_MAX:
        text = text[:NAME_MAX - 3] + "..."
    return text


def ready_line(name):
    """What the guest writes to its serial port once it has booted (CR LF ended)."""
    return "nova_console guest %s ready\r\n" % guest_name(name)


def template(nasm="nasm"):
    """The assembled boot sector with an empty name slot (assembled on first use)."""
    global _template
    with _lock:
        if _template is None:
            _template = _assemble(nasm)
        return _template


def _assemble(nasm):
    if shutil.which(nasm) is None:
        raise GuestImageError("the assembler %r is not installed (Debian: apt-get install "
                              "nasm)" % nasm)
    with tempfile.TemporaryDirectory(prefix="nova-console-guest-") as workdir:
        output = os.path.join(workdir, "boot.bin")
        try:
            result = subprocess.run(
                [nasm, "-f", "bin", "-D", "NAME_MAX=%d" % NAME_MAX, "-o", output, SOURCE],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=_ASSEMBLE_TIMEOUT,
                check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise GuestImageError("could not run %s: %s" % (nasm, exc)) from exc
        if result.returncode != 0:
            raise GuestImageError("%s failed on %s: %s" % (
                nasm, SOURCE, result.stderr.decode("utf-8", "replace").strip()))
        with open(output, "rb") as assembled:
            sector = assembled.read()
    if (len(sector) != SECTOR_SIZE or sector[-2:] != b"\x55\xaa"
            or any(sector[_NAME_SLOT:SECTOR_SIZE - 2])):
        raise GuestImageError("%s did not assemble into a boot sector with an empty name "
                              "slot at offset %d" % (SOURCE, _NAME_SLOT))
    return sector


def boot_sector(name, nasm="nasm"):
    """The 512-byte boot sector of a guest called `name`."""
    text = guest_name(name).encode("ascii")
    sector = bytearray(template(nasm))
    sector[_NAME_SLOT:_NAME_SLOT + len(text)] = text
    return bytes(sector)


def build_image(name, dest_dir, nasm="nasm"):
    """Write the guest image of `name` into `dest_dir` (which must exist); its path.

    A raw 1.44 MB floppy image, to attach read-only (QEMU: ``-drive
    file=<path>,format=raw,if=floppy,readonly=on``). GuestImageError if it cannot be made.
    """
    sector = boot_sector(name, nasm)
    path = os.path.join(dest_dir, IMAGE_NAME)
    try:
        with open(path, "wb") as image:
            image.write(sector)
            image.truncate(FLOPPY_SIZE)
    except OSError as exc:
        raise GuestImageError("could not write %s: %s" % (path, exc)) from exc
    return path
