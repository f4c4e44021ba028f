"""Start the endpoint: bind the port, sandbox the process, prepare the data, serve with uvicorn."""

from __future__ import annotations

import errno
import logging
import socket
import sys

from kzgraph.core.errors import KzgraphError
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.serving.preparation import prepare
from kzgraph.graph.loading import load

log = logging.getLogger("kzgraph.endpoint")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else so a busy port fails at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = (
            "is already in use"
            if exc.errno == errno.EADDRINUSE
            else f"cannot be bound ({exc.strerror})"
        )
        raise KzgraphError(
            f"port {port} on {host} {reason}: stop the other server or pass --port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: ServerSettings, host: str, port: int) -> None:
    """Run the server until interrupted.

    Order matters: bind the port, start the relay to a backend if there is one, then install
    the network sandbox, then start the workers (which inherit it), then serve on the
    already-bound socket.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per backend request is noise
    sock = bind(host, port)
    gateway = None
    if settings.backend is not None:  # started before the sandbox: the only way out
        from kzgraph.endpoint.safety.gateway import Gateway, host_port

        gateway = Gateway.start(*host_port(settings.backend.urls()))
        log.info("backend: reached only through the relay (pid %d)", gateway.process.pid)
    try:
        _serve(settings, host, port, sock, gateway.socket_path if gateway else None)
    finally:
        if gateway is not None:
            gateway.close()


def _serve(
    settings: ServerSettings, host: str, port: int, sock: socket.socket, relay: str | None
) -> None:
    from kzgraph.endpoint.safety.sandbox import SandboxUnavailableError, deny_network
    from kzgraph.endpoint.serving.app import create_app

    sandboxed = False
    if settings.sandbox:
        try:
            deny_network()
            sandboxed = True
        except SandboxUnavailableError as exc:
            sock.close()
            raise KzgraphError(
                f"{exc}; the endpoint refuses to serve without its network sandbox "
                "(install libseccomp2, or start with --no-sandbox on a trusted network)"
            ) from None
        log.info("sandbox: this process and its workers cannot open network connections")
    else:
        log.warning("sandbox: OFF (--no-sandbox); SERVICE and LOAD are refused by the parser only")
    if settings.processes:
        from kzgraph.endpoint.serving.processes import supervise

        log.info("serving on http://%s:%d/ (SPARQL at /sparql); press Ctrl+C to stop", host, port)
        supervise(settings, sock, sandboxed)
        return
    from kzgraph.endpoint.serving.processes import uvicorn_server

    state = prepare(settings, relay)
    state.sandboxed = sandboxed
    server = uvicorn_server(create_app(state), settings)
    log.info("serving on http://%s:%d/ (SPARQL at /sparql); press Ctrl+C to stop", host, port)
    server.run(sockets=[sock])


__all__ = ["load", "prepare", "serve"]
