"""Every query tool answers what the REST request doing the same answers, to the byte of JSON:
one source of truth behind both."""

from typing import Any

import httpx2
import pytest
from mcp import Client

from support import User, mcp_client, rest_client, rest_json, tool_ok

pytestmark = pytest.mark.anyio


async def same_as_rest(
    mcp: Client, tool: str, arguments: dict[str, Any], rest: httpx2.AsyncClient, path: str
) -> Any:
    """The tool's answer, which must equal REST's (the same arguments as query parameters, but
    the task_id in the path), read just before or just after it: figures that depend on the
    clock (today, this week) may move at a UTC midnight between two reads."""
    query = {name: value for name, value in arguments.items() if name != "task_id"}
    before = await rest_json(rest, path, **query)
    answer = await tool_ok(mcp, tool, arguments)
    if answer != before:
        assert answer == await rest_json(rest, path, **query), f"{tool}({arguments}) vs GET {path}"
    return answer


async def test_each_query_tool_answers_what_rest_answers(mode: str, alice: User, bob: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest:
        ids = []
        for title in ("First", "Second", "Third"):
            ids.append((await tool_ok(mcp, "add_task", {"title": title}))["task_id"])
        await tool_ok(mcp, "complete_task", {"task_id": ids[0]})
        await tool_ok(mcp, "update_task", {"task_id": ids[0], "description": "now with text"})
        await tool_ok(mcp, "share_task", {"task_id": ids[1], "user_id": bob.id, "permission": "view"})

        for task_id in ids:
            await same_as_rest(mcp, "get_task", {"task_id": task_id}, rest, f"/api/tasks/{task_id}")

        first = await rest_json(rest, "/api/tasks", limit=2)
        assert first["next_cursor"], "three tasks make two pages of two"
        pages = ({}, {"status": "completed"}, {"status": "pending", "limit": 1}, {"limit": 2, "cursor": first["next_cursor"]})
        for page in pages:
            await same_as_rest(mcp, "list_tasks", page, rest, "/api/tasks")

        history_path = f"/api/tasks/{ids[0]}/events"
        history = await same_as_rest(mcp, "task_history", {"task_id": ids[0]}, rest, history_path)
        assert [event["type"] for event in history["events"]] == ["TaskCreated", "TaskCompleted", "TaskEdited"]
        page = {"task_id": ids[0], "limit": 1, "after": history["events"][0]["position"]}
        assert len((await same_as_rest(mcp, "task_history", page, rest, history_path))["events"]) == 1

        dashboard = await same_as_rest(mcp, "get_dashboard", {}, rest, "/api/dashboard")
        assert (dashboard["total"], dashboard["completed"], dashboard["pending"]) == (3, 1, 2)
        await same_as_rest(mcp, "get_trend", {}, rest, "/api/dashboard/trend")
        trend = await same_as_rest(mcp, "get_trend", {"days": 7}, rest, "/api/dashboard/trend")
        assert len(trend["days"]) == 7 and trend["days"][-1]["created"] == 3

    async with mcp_client(bob, mode) as bob_mcp, rest_client(bob) as bob_rest:
        shared = await same_as_rest(bob_mcp, "list_tasks", {"scope": "shared"}, bob_rest, "/api/tasks")
        assert [task["id"] for task in shared["items"]] == [ids[1]]
