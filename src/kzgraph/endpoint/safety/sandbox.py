"""Make the server process, and every worker it starts, unable to open network connections.

The parser in :mod:`kzgraph.core.sparql_text` refuses ``SERVICE`` and ``LOAD`` with a clear
message, but a guarantee should not rest on a parser agreeing with the engine on every spelling.
So once the server has bound its listening socket it installs a seccomp filter (through
libseccomp): creating an IPv4, IPv6 or packet socket fails with ``EACCES``, and io_uring (which
could open sockets without the ``socket`` system call) is unavailable. The kernel enforces it, the
filter cannot be removed, and processes started afterwards inherit it. Accepting connections on
the socket bound before, and the Unix-domain pipes to the workers, keep working.
"""

from __future__ import annotations

import errno
import socket

#: Socket families the server never needs after start-up: they reach other hosts.
DENIED_FAMILIES = (socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", 17))


class SandboxUnavailableError(RuntimeError):
    """The kernel or libseccomp does not let this process install the filter."""


def deny_network() -> None:
    """Install the filter in this process (irreversible); raise if it cannot be installed."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 missing
        raise SandboxUnavailableError(f"libseccomp is not available: {exc}") from None
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for family in DENIED_FAMILIES:
            rules.add_rule(
                seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, family)
            )
        for call in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            try:
                rules.add_rule(seccomp.ERRNO(errno.ENOSYS), call)
            except (ValueError, RuntimeError, OSError):
                pass  # an architecture without io_uring
        rules.load()
    except (RuntimeError, OSError, ValueError) as exc:
        raise SandboxUnavailableError(f"the seccomp filter could not be installed: {exc}") from None


def network_denied() -> bool:
    """True when this process cannot open an IPv4 socket (the filter is on)."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except PermissionError:
        return True
    probe.close()
    return False
