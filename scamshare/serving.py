"""The embedded server of `scamshare serve`: waitress, set to outlast idle, slow and stuck clients.

waitress reads requests and writes responses on one event loop and runs the application on a
few worker threads, so a connection costs a file descriptor and a little memory, not a thread.
Its defaults undo that: at 100 open connections it stops accepting, so a hundred idle or
byte-a-second clients lock everyone out; a worker writing a response waits once 16 MiB are
queued for a client that does not read; requests run first come, first served, so fifty
download requests put a lookup behind all of them; and a connection stuck on unread output is
never closed. The settings, the dispatcher and the server below answer each in turn.
"""

from __future__ import annotations

import logging
import resource
from collections import deque
from collections.abc import Callable, Iterable

import click
from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

# Every setting that differs from waitress's default, with its reason.
SETTINGS: dict[str, int | bool] = {
    # Connections are cheap on the event loop; the limit only bounds descriptors and memory.
    "connection_limit": 2000,
    # The kernel queues connections that arrive while the loop is busy.
    "backlog": 2048,
    # select() cannot watch descriptors above 1023; poll() has no such ceiling.
    "asyncore_use_poll": True,
    # An open connection that neither sends nor receives a byte for a minute is closed (checked
    # every 10 s). A stalled download counts: once its worker is done, only the buffer is left.
    "channel_timeout": 60,
    "cleanup_interval": 10,
    # A worker hands its response to the channel's buffer (memory up to 1 MiB, then a temporary
    # file) and is free again, instead of waiting for the client to read: a full blocklist of
    # 1,000,000 listings is about 120 MB of CSV and 270 MB of JSON, so one of any format fits.
    "outbuf_high_watermark": 512 * 2**20,
}
# Descriptors kept apart from connections: database files, logs, the loop's trigger, imports.
RESERVED_DESCRIPTORS = 64
# Each connection may hold a socket and the temporary file of a spilled response.
DESCRIPTORS_PER_CONNECTION = 2


# Requests that keep a worker busy for a second or more (a full blocklist of 100,000 listings
# takes about half a second of one core to render; a million, several).
BULK_PATHS = ("/api/v1/blocklist",)
# How many worker threads bulk requests may hold at once by default; the rest stay free for
# lookups, and two downloads rendering at once keep two cores busy.
BULK_THREADS = 2


def is_bulk(task) -> bool:
    """Tell whether a task is a channel about to run a bulk download."""
    requests = getattr(task, "requests", None)
    return bool(requests) and requests[0].path.startswith(BULK_PATHS)


class _BulkTask:
    """A bulk request running on one of the dispatcher's bulk slots, given back when it ends."""

    def __init__(self, dispatcher: LaneDispatcher, channel: HTTPChannel):
        """Wrap the channel whose next request is bulk."""
        self.dispatcher = dispatcher
        self.channel = channel

    def service(self) -> None:
        """Run the request, then hand the slot to the next bulk request."""
        try:
            self.channel.service()
        finally:
            self.dispatcher.bulk_done()

    def cancel(self) -> None:
        """Cancel the request (at shutdown)."""
        self.channel.cancel()


class LaneDispatcher(ThreadedTaskDispatcher):
    """waitress's worker threads, of which bulk downloads may hold at most `bulk_threads`.

    waitress runs requests first come, first served: fifty download requests at once would put
    a lookup behind all of them, tens of seconds on two cores. Here bulk requests beyond the
    slots wait in their own queue, and every other request goes straight to the shared one.
    """

    def __init__(self, bulk_threads: int):
        """Start with no threads; set_thread_count starts them."""
        super().__init__()
        self.bulk_threads = bulk_threads
        self.bulk_running = 0
        self.bulk_waiting: deque[_BulkTask] = deque()

    def add_task(self, task) -> None:
        """Queue a channel's next request: bulk ones only while a slot is free."""
        if is_bulk(task):
            bulk = _BulkTask(self, task)
            with self.lock:
                if self.bulk_running >= self.bulk_threads:
                    self.bulk_waiting.append(bulk)
                    return
                self.bulk_running += 1
            task = bulk
        super().add_task(task)

    def bulk_done(self) -> None:
        """Give a finished bulk request's slot to the next waiting one, if any."""
        with self.lock:
            if not self.bulk_waiting:
                self.bulk_running -= 1
                return
            self.queue.append(self.bulk_waiting.popleft())
            self.queue_cv.notify()

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        """Stop the threads and cancel the waiting bulk requests with the rest."""
        with self.lock:
            while self.bulk_waiting:
                self.bulk_waiting.popleft().cancel()
        return super().shutdown(cancel_pending, timeout)


# Settings serve cannot take from the command line: it listens on TCP addresses only.
_NOT_OVERRIDABLE = ("sockets", "unix_socket", "unix_socket_perms")


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Read NAME=VALUE waitress settings, refusing names waitress does not know."""
    overrides = {}
    for pair in pairs:
        name, sign, value = pair.partition("=")
        name = name.strip()
        if not sign or name not in Adjustments._param_map or name in _NOT_OVERRIDABLE:
            raise click.BadParameter(
                f"{pair!r}: expected NAME=VALUE with a waitress setting as NAME "
                "(connection_limit, channel_timeout, outbuf_high_watermark, ...)",
                param_hint="--server-option",
            )
        overrides[name] = value.strip()
    return overrides


def raise_descriptor_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards `wanted` (at most the hard limit); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else soft


def adjustments(host: str, port: int, threads: int, overrides: dict[str, str]) -> Adjustments:
    """The waitress settings to serve with, the connection limit fitted to the open-file limit."""
    try:
        adj = Adjustments(
            host=host, port=port, ident="scamshare", **{**SETTINGS, "threads": threads, **overrides}
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--server-option") from None
    limit = adj.connection_limit
    wanted = limit * DESCRIPTORS_PER_CONNECTION + RESERVED_DESCRIPTORS
    available = raise_descriptor_limit(wanted)
    if available < wanted:
        adj.connection_limit = max(
            1, (available - RESERVED_DESCRIPTORS) // DESCRIPTORS_PER_CONNECTION
        )
        click.echo(
            f"warning: the open-file limit is {available} (its hard limit too), so this server "
            f"accepts at most {adj.connection_limit} connections instead of {limit}; raise it "
            f"with `ulimit -n {wanted}` or LimitNOFILE= in the service unit",
            err=True,
        )
    return adj


# Connections accepted per turn of the event loop when many arrive at once.
ACCEPTS_PER_TURN = 64


class Server(TcpWSGIServer):
    """waitress's TCP server, which also closes connections stuck on a client that stopped reading.

    waitress marks a silent connection for closing and closes it when its socket is next
    writable, which never happens while the client's receive window stays shut: the buffered
    response and its temporary file would stay for as long as the client keeps the connection.
    """

    def handle_accept(self) -> None:
        """Accept the connections waiting, up to ACCEPTS_PER_TURN, instead of one.

        Each turn of the loop visits every connection, so accepting one per turn made a burst
        of 750 connections cost about a second of the loop, with a lookup waiting behind it.
        """
        for _ in range(ACCEPTS_PER_TURN):
            if len(self._map) >= self.adj.connection_limit:
                return
            before = len(self._map)
            super().handle_accept()
            if len(self._map) == before:  # none waiting, or a failed accept (logged)
                return

    def maintenance(self, now: float) -> None:
        """Mark silent connections for closing; close at once those stuck on unread output."""
        super().maintenance(now)
        cutoff = now - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            if channel.last_activity >= cutoff or not channel.total_outbufs_len:
                continue
            # With a request running, only a worker waiting above the high watermark is stuck;
            # handle_close wakes it, and its next write ends the request.
            if not channel.requests or channel.total_outbufs_len > self.adj.outbuf_high_watermark:
                channel.handle_close()


def serve(
    app: Flask,
    adj: Adjustments,
    bulk_threads: int,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    """Serve the app until interrupted; bulk_threads 0 lets downloads take any worker thread."""
    dispatcher = LaneDispatcher(bulk_threads) if bulk_threads else ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    # waitress.serve's own logging set-up, for its warnings (connection limit, queue depth).
    logging.basicConfig()
    # One server per address the host resolves to, all on one event loop (as waitress.serve).
    sockets: dict = {}
    servers = [
        Server(app, sockets, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)
        for sockinfo in adj.listen
    ]
    bulk = f"{bulk_threads} for downloads" if bulk_threads else "any for downloads"
    for server in servers:
        click.echo(
            f"serving on http://{server.effective_host}:{server.effective_port} with "
            f"{adj.threads} threads ({bulk}), at most {adj.connection_limit} connections, "
            f"silent ones closed after {adj.channel_timeout} s"
        )
    on_listening()  # only now: a busy port has raised OSError above, before any "listening"
    servers[0].run()
