#!/usr/bin/env python3
"""MCP benchmark (BENCHMARKS.md, issue 20 "Performance"): what a tool call costs next to the REST
request doing the same (add_task vs POST /api/tasks, get_dashboard vs GET /api/dashboard), N
sequential calls each on one connection or session, all in the same run against the same
server; and the time from a REST command to a subscribed MCP session's notification.

Starts its own `tally serve` (target/release/tally: `cargo build --release` first) on a fresh
SQLite file, or on TALLY_DATABASE_URL (an EMPTY database), and stops it at the end. Runs with the
end-to-end suite's pinned client (`bash .ci/mcp` makes target/mcp-venv):

    target/mcp-venv/bin/python scripts/mcp_bench.py [--calls 1000] [--notifications 200]

Each MCP way is measured three times over: raw JSON-RPC posted with the same HTTP client as the
REST rows (stateless 2026-07-28, as README's curl example: the server's own added cost), and the
official client at 2026-07-28 and in a 2025-11-25 session (what a Python assistant sees, the
client's own validation included).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parent.parent
NEWEST = "2026-07-28"
DASHBOARD = "tally://dashboard"
WARMUP = 20
# The 2025-11-25 row subscribes the way clients of that version do, on purpose.
warnings.filterwarnings("ignore", "resources/subscribe is removed")
# The client logs a warning when a session's DELETE is answered 202 rather than 200 or 204.
logging.getLogger("mcp.client.streamable_http").setLevel(logging.ERROR)
PATIENCE = 10.0


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile of `samples`, in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


class Server:
    """A `tally serve` of this run's own, on a free loopback port."""

    def __init__(self, binary: Path, work: Path):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.binary = binary
        self.env = dict(
            os.environ,
            TALLY_LISTEN=f"127.0.0.1:{port}",
            TALLY_DATA_DIR=str(work),
            TALLY_JWT_SECRET="mcp-bench-secret-not-for-production-use-0123456789",
            RUST_LOG="warn",
        )
        self.env.setdefault("TALLY_DATABASE_URL", f"sqlite://{work}/tally.db")
        self.log = open(work / "server.log", "wb")
        self.process = subprocess.Popen([str(binary), "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx2.get(f"{self.base}/api/dashboard/health", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        sys.exit(f"tally serve did not start: see {work / 'server.log'}")

    def token(self, user: str) -> str:
        command = [str(self.binary), "token", "--user", user]
        return subprocess.run(command, env=self.env, check=True, capture_output=True, text=True).stdout.strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def timed(calls: int, ways: list[tuple[str, Callable[[int], Awaitable[None]]]]) -> list[tuple[str, list[float]]]:
    """Seconds each of `calls` sequential calls of each way took, after a warm-up. The ways take
    turns, call by call, so the machine's other load falls on all of them alike."""
    for i in range(WARMUP):
        for _, call in ways:
            await call(i)
    samples: list[list[float]] = [[] for _ in ways]
    for i in range(calls):
        for (_, call), taken in zip(ways, samples):
            started = time.perf_counter()
            await call(i)
            taken.append(time.perf_counter() - started)
    return [(label, taken) for (label, _), taken in zip(ways, samples)]


def rpc_result(answer: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC result in a JSON or one-event SSE answer; a tool's refusal stops the run."""
    assert answer.status_code == 200, answer.text
    text = answer.text
    if answer.headers["content-type"].startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:") and line[5:].strip())
    result = json.loads(text)["result"]
    assert not result.get("isError"), result
    return result


def raw_tool_call(http: httpx2.AsyncClient, url: str, name: str, arguments: Callable[[int], dict]):
    """One stateless 2026-07-28 tools/call per call, as README's curl example sends it."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": NEWEST,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    meta = {"io.modelcontextprotocol/protocolVersion": NEWEST, "io.modelcontextprotocol/clientCapabilities": {}}

    async def call(i: int) -> None:
        body = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments(i), "_meta": meta},
        }
        rpc_result(await http.post(url, json=body, headers=headers))

    return call


async def tool_and_rest_rows(server: Server, calls: int) -> list[tuple[str, list[float]]]:
    token = server.token(f"bench-{uuid.uuid4().hex[:8]}")
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{server.base}/mcp"
    rows: list[tuple[str, list[float]]] = []
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx2.AsyncClient(base_url=server.base, headers=auth, timeout=30))
        clients = {}
        for mode, label in (("auto", NEWEST), ("legacy", "2025-11-25 session")):
            mcp_http = await stack.enter_async_context(httpx2.AsyncClient(headers=auth, timeout=30))
            transport = streamable_http_client(url, http_client=mcp_http)
            clients[label] = await stack.enter_async_context(Client(transport, mode=mode))

        async def rest_add(i: int) -> None:
            answer = await http.post("/api/tasks", json={"title": f"bench {i}"})
            assert answer.status_code == 201, answer.text

        async def rest_dashboard(_: int) -> None:
            answer = await http.get("/api/dashboard")
            assert answer.status_code == 200, answer.text

        def client_call(client: Client, name: str, arguments: Callable[[int], dict]):
            async def call(i: int) -> None:
                result = await client.call_tool(name, arguments(i))
                assert not result.is_error, result

            return call

        for name, rest_label, rest_call, arguments in (
            ("add_task", "POST /api/tasks", rest_add, lambda i: {"title": f"bench {i}"}),
            ("get_dashboard", "GET /api/dashboard", rest_dashboard, lambda _: {}),
        ):
            ways = [
                (f"REST {rest_label}", rest_call),
                (f"MCP {name}, raw JSON-RPC {NEWEST}", raw_tool_call(http, url, name, arguments)),
            ]
            ways += [(f"MCP {name}, Python client {label}", client_call(client, name, arguments)) for label, client in clients.items()]
            rows += await timed(calls, ways)
    return rows


# More than src/live/subscription.rs's EVENT_GAP.
SPACING = 0.06


async def notification_rows(server: Server, count: int) -> list[tuple[str, list[float], list[float]]]:
    """REST create → the subscribed session hears of it: from sending the command, and from its
    answer; commands SPACING apart. A notification counts once a read of the resource shows the new task."""
    rows = []
    for mode in ("auto", "legacy"):
        token = server.token(f"bench-{uuid.uuid4().hex[:8]}")
        auth = {"Authorization": f"Bearer {token}"}
        updates, heard = anyio.create_memory_object_stream[float](1024)

        async def on_message(message: types.ServerNotification | Exception) -> None:
            if isinstance(message, types.ResourceUpdatedNotification):
                updates.send_nowait(time.perf_counter())

        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx2.AsyncClient(base_url=server.base, headers=auth, timeout=30))
            # A long read timeout: the subscription's stream stays open between notifications.
            mcp_http = httpx2.AsyncClient(headers=auth, timeout=httpx2.Timeout(30, read=300))
            transport = streamable_http_client(f"{server.base}/mcp", http_client=await stack.enter_async_context(mcp_http))
            client = await stack.enter_async_context(Client(transport, mode=mode, message_handler=on_message))
            if mode == "auto":
                subscription = await stack.enter_async_context(client.listen(resource_subscriptions=[DASHBOARD]))

                async def next_update() -> float:
                    await subscription.__anext__()
                    return time.perf_counter()

                label = f"listen ({NEWEST})"
            else:
                await client.subscribe_resource(DASHBOARD)
                next_update = heard.receive
                label = "resources/subscribe (2025-11-25)"

            async def total() -> int:
                result = await client.read_resource(DASHBOARD, cache_mode="bypass")
                return json.loads(result.contents[0].text)["total"]

            from_send, from_answer = [], []
            for i in range(count + WARMUP):
                # Commands further apart than the streams' pacing (EVENT_GAP, 50 ms): back to
                # back, each notification would wait out the gap after the last one and measure
                # the pacing, not the delivery.
                await anyio.sleep(SPACING)
                sent = time.perf_counter()
                answer = await http.post("/api/tasks", json={"title": f"notify {i}"})
                answered = time.perf_counter()
                assert answer.status_code == 201, answer.text
                with anyio.fail_after(PATIENCE):
                    while True:
                        notified = await next_update()
                        if await total() == i + 1:
                            break
                if i >= WARMUP:
                    from_send.append(notified - sent)
                    from_answer.append(notified - answered)
            rows.append((label, from_send, from_answer))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls per row (1000)")
    parser.add_argument("--notifications", type=int, default=200, help="commands per subscription row (200)")
    parser.add_argument("--binary", type=Path, default=ROOT / "target/release/tally")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        server = Server(options.binary, Path(work))
        try:
            backend = server.env["TALLY_DATABASE_URL"].split(":")[0]
            print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {os.cpu_count()} cores, {backend}, "
                  f"{options.binary.relative_to(ROOT) if options.binary.is_relative_to(ROOT) else options.binary}")
            print(f"\n{options.calls} sequential calls each, one connection or session each (ms)\n")
            print(f"| {'request':<52} | {'p50':>6} | {'p99':>6} |")
            print(f"|{'-' * 54}|{'-' * 8}|{'-' * 8}|")
            for label, samples in await tool_and_rest_rows(server, options.calls):
                print(f"| {label:<52} | {percentile(samples, 0.5):6.2f} | {percentile(samples, 0.99):6.2f} |")

            print(f"\nREST POST /api/tasks → the subscribed session's tally://dashboard notification, "
                  f"{options.notifications} commands (ms)\n")
            print(f"| {'subscription':<34} | {'p50 sent':>8} | {'p99 sent':>8} | {'p50 answered':>12} | {'p99 answered':>12} |")
            print(f"|{'-' * 36}|{'-' * 10}|{'-' * 10}|{'-' * 14}|{'-' * 14}|")
            try:
                for label, sent, answered in await notification_rows(server, options.notifications):
                    print(f"| {label:<34} | {percentile(sent, 0.5):8.2f} | {percentile(sent, 0.99):8.2f} "
                          f"| {percentile(answered, 0.5):12.2f} | {percentile(answered, 0.99):12.2f} |")
            except Exception as error:  # a server without the dashboard resource yet: say so, keep the rest
                while isinstance(error, BaseExceptionGroup):
                    error = error.exceptions[0]
                print(f"| not measured: {type(error).__name__}: {error}")
        finally:
            server.stop()


if __name__ == "__main__":
    anyio.run(main)
