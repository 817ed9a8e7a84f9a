"""`tally mcp --user ID`: the same tools over stdio, launched as a local assistant launches it,
on the database the running server uses (whose REST answers then show what it did)."""

import os

import anyio
import pytest
from mcp import Client, StdioServerParameters

from support import PATIENCE, User, rest_client, rest_json, tally_binary, tool_ok

pytestmark = pytest.mark.anyio

# What `tally mcp` needs to find the store and sign nothing else: the same settings as serve.
SETTINGS = ("TALLY_DATABASE_URL", "TALLY_DATA_DIR", "TALLY_JWT_SECRET")


async def test_tally_mcp_over_stdio(alice: User) -> None:
    local = StdioServerParameters(
        command=tally_binary(),
        args=["mcp", "--user", alice.id],
        env={name: os.environ[name] for name in SETTINGS},
    )
    async with Client(local) as mcp:
        added = await tool_ok(mcp, "add_task", {"title": "From a local assistant"})
        dashboard = await tool_ok(mcp, "get_dashboard")
    assert (dashboard["total"], dashboard["pending"]) == (1, 1)

    # Written by another process: the task row is read as it is; the server's cached dashboard
    # row (SQLite) learns of another process's writes within a second, so that read waits.
    async with rest_client(alice) as rest:
        task = await rest_json(rest, f"/api/tasks/{added['task_id']}")
        assert (task["title"], task["owner_id"]) == ("From a local assistant", alice.id)
        with anyio.fail_after(PATIENCE):
            while (await rest_json(rest, "/api/dashboard"))["total"] != 1:
                await anyio.sleep(0.05)
