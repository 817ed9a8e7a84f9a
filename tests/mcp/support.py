"""What the end-to-end tests share: the server under test (from the environment .ci/mcp sets),
users with their own tokens, an MCP client and a REST client for each, and the tool-result
checks every test makes."""

from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

# How long a test waits for something that should happen (a notification), before failing.
PATIENCE = 10.0

# What the pinned client speaks: "auto" negotiates the newest version, 2026-07-28 (stateless,
# `subscriptions/listen`); "legacy" is the initialize handshake of 2025-11-25 (sessions,
# `resources/subscribe`). tally serves both.
MODES = ("auto", "legacy")
NEWEST = "2026-07-28"
LEGACY = "2025-11-25"

# The command tools change tasks or teams; the rest only read them.
TASK_COMMANDS = {
    "add_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "share_task",
    "unshare_task",
    "share_task_with_team",
    "unshare_task_from_team",
}
TEAM_COMMANDS = {
    "create_team",
    "rename_team",
    "delete_team",
    "set_team_member",
    "remove_team_member",
}
COMMANDS = TASK_COMMANDS | TEAM_COMMANDS
QUERIES = {
    "list_tasks",
    "get_task",
    "task_history",
    "get_dashboard",
    "get_trend",
    "list_teams",
    "get_team",
    "list_team_tasks",
    "get_team_dashboard",
}
ALL_TOOLS = COMMANDS | QUERIES


def setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through .ci/mcp")
    return value


def base_url() -> str:
    """The running `tally serve`, e.g. http://127.0.0.1:8080."""
    return setting("TALLY_MCP_BASE").rstrip("/")


def tally_binary() -> str:
    return setting("TALLY_BIN")


@dataclass(frozen=True)
class User:
    """A user of its own per test, so figures like the dashboard's total are the test's alone."""

    id: str
    token: str

    @staticmethod
    def new(prefix: str = "e2e") -> User:
        user_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
        token = subprocess.run(
            [tally_binary(), "token", "--user", user_id],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return User(user_id, token)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def http_client(user: User | None) -> httpx2.AsyncClient:
    # A long read timeout, as the SDK's own client has: a subscription's stream stays open.
    return httpx2.AsyncClient(
        headers=user.headers() if user else {},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )


@asynccontextmanager
async def mcp_client(user: User, mode: str = "auto", **options: Any) -> AsyncIterator[Client]:
    """A connected client of `user`, as README's snippet makes one."""
    async with http_client(user) as http:
        transport = streamable_http_client(f"{base_url()}/mcp", http_client=http)
        async with Client(transport, mode=mode, **options) as client:
            yield client


@asynccontextmanager
async def rest_client(user: User) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=base_url(), headers=user.headers(), timeout=30.0
    ) as http:
        yield http


async def rest_json(rest: httpx2.AsyncClient, path: str, **params: Any) -> Any:
    """The body of a GET that must succeed."""
    response = await rest.get(path, params={k: v for k, v in params.items() if v is not None})
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return response.json()


async def tool_ok(client: Client, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """The structured result of a tool call that must succeed."""
    result = await client.call_tool(name, arguments or {})
    assert not result.is_error, f"{name}({arguments}) refused: {text_of(result)}"
    assert result.structured_content is not None, f"{name}: no structured content"
    return result.structured_content


async def tool_refused(client: Client, name: str, arguments: dict[str, Any]) -> str:
    """The text of a tool call that must be refused (a result with isError, not a protocol error)."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name}({arguments}) was not refused: {result.structured_content}"
    return text_of(result)


def text_of(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if block.type == "text")
