"""Every query tool answers what the REST request doing the same answers, to the byte of JSON:
one source of truth behind both."""

from typing import Any, Awaitable, Callable

import pytest

from support import User, mcp_client, rest_client, rest_json, tool_ok

pytestmark = pytest.mark.anyio


async def same_as_rest(tool: Awaitable[Any], rest: Callable[[], Awaitable[Any]]) -> None:
    """The tool's answer equals REST's, read just before or just after it: figures that depend
    on the clock (today, this week) may move at a UTC midnight between the two reads."""
    before = await rest()
    answer = await tool
    if answer != before:
        assert answer == await rest()


async def test_each_query_tool_answers_what_rest_answers(mode: str, alice: User, bob: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest, rest_client(bob) as bob_rest:
        ids = []
        for title in ("First", "Second", "Third"):
            ids.append((await tool_ok(mcp, "add_task", {"title": title}))["task_id"])
        await tool_ok(mcp, "complete_task", {"task_id": ids[0]})
        await tool_ok(mcp, "update_task", {"task_id": ids[0], "description": "now with text"})
        await tool_ok(mcp, "share_task", {"task_id": ids[1], "user_id": bob.id, "permission": "view"})

        for task_id in ids:
            await same_as_rest(tool_ok(mcp, "get_task", {"task_id": task_id}), lambda: rest_json(rest, f"/api/tasks/{task_id}"))

        pages: list[dict[str, Any]] = [{}, {"status": "completed"}, {"status": "pending", "limit": 1}]
        first = await rest_json(rest, "/api/tasks", limit=2)
        assert first["next_cursor"], "three tasks make two pages of two"
        pages.append({"limit": 2, "cursor": first["next_cursor"]})
        for params in pages:
            await same_as_rest(tool_ok(mcp, "list_tasks", params), lambda: rest_json(rest, "/api/tasks", **params))
        async with mcp_client(bob, mode) as bob_mcp:
            shared = await tool_ok(bob_mcp, "list_tasks", {"scope": "shared"})
            assert [task["id"] for task in shared["items"]] == [ids[1]]
            await same_as_rest(tool_ok(bob_mcp, "list_tasks", {"scope": "shared"}), lambda: rest_json(bob_rest, "/api/tasks", scope="shared"))

        history = await tool_ok(mcp, "task_history", {"task_id": ids[0]})
        assert [event["type"] for event in history["events"]] == ["TaskCreated", "TaskCompleted", "TaskEdited"]
        await same_as_rest(tool_ok(mcp, "task_history", {"task_id": ids[0]}), lambda: rest_json(rest, f"/api/tasks/{ids[0]}/events"))
        after = history["events"][0]["position"]
        await same_as_rest(
            tool_ok(mcp, "task_history", {"task_id": ids[0], "limit": 1, "after": after}),
            lambda: rest_json(rest, f"/api/tasks/{ids[0]}/events", limit=1, after=after),
        )

        dashboard = await tool_ok(mcp, "get_dashboard")
        assert (dashboard["total"], dashboard["completed"], dashboard["pending"]) == (3, 1, 2)
        await same_as_rest(tool_ok(mcp, "get_dashboard"), lambda: rest_json(rest, "/api/dashboard"))
        await same_as_rest(tool_ok(mcp, "get_trend"), lambda: rest_json(rest, "/api/dashboard/trend"))
        trend = await tool_ok(mcp, "get_trend", {"days": 7})
        assert len(trend["days"]) == 7 and trend["days"][-1]["created"] == 3
        await same_as_rest(tool_ok(mcp, "get_trend", {"days": 7}), lambda: rest_json(rest, "/api/dashboard/trend", days=7))
