"""What goes wrong comes back as a tool result with isError, naming the problem type (never a
protocol error), changes nothing, and leaves the server serving; and a retried command with
the same idempotency_key is applied once."""

import uuid

import pytest

from support import User, mcp_client, rest_client, rest_json, tool_ok, tool_refused

pytestmark = pytest.mark.anyio


async def test_refusals_name_the_problem_type(mode: str, alice: User, bob: User) -> None:
    async with mcp_client(alice, mode) as mcp, mcp_client(bob, mode) as bob_mcp, rest_client(alice) as rest:
        task_id = (await tool_ok(mcp, "add_task", {"title": "Alice's"}))["task_id"]
        await tool_ok(mcp, "complete_task", {"task_id": task_id})
        before = await rest_json(rest, f"/api/tasks/{task_id}")

        refusals = [
            (mcp, "complete_task", {"task_id": task_id}, "invalid-transition:"),
            (mcp, "get_task", {"task_id": str(uuid.uuid4())}, "not-found:"),
            (mcp, "get_task", {"task_id": "not-a-uuid"}, "malformed-request:"),
            (mcp, "add_task", {"title": "   "}, "validation:"),
            (mcp, "share_task", {"task_id": task_id, "user_id": alice.id, "permission": "view"}, "validation:"),
            (mcp, "unshare_task", {"task_id": task_id, "user_id": bob.id}, "not-found:"),
            # Bob cannot see Alice's task: not found, never forbidden (which would tell it exists).
            (bob_mcp, "delete_task", {"task_id": task_id}, "not-found:"),
            (bob_mcp, "task_history", {"task_id": task_id}, "not-found:"),
        ]
        for client, tool, arguments, problem in refusals:
            text = await tool_refused(client, tool, arguments)
            assert text.startswith(problem), f"{tool}({arguments}): {text}"

        await tool_ok(mcp, "share_task", {"task_id": task_id, "user_id": bob.id, "permission": "view"})
        forbidden = await tool_refused(bob_mcp, "reopen_task", {"task_id": task_id})
        assert forbidden.startswith("forbidden:"), forbidden

        after = await rest_json(rest, f"/api/tasks/{task_id}")
        assert (after["status"], after["version"]) == (before["status"], before["version"] + 1)
        assert (await rest_json(rest, "/api/dashboard"))["total"] == 1
        assert (await tool_ok(mcp, "get_dashboard"))["total"] == 1


async def test_a_retried_add_task_creates_one_task(mode: str, alice: User) -> None:
    key = f"e2e-{uuid.uuid4()}"
    arguments = {"title": "Only once", "idempotency_key": key}
    # The retry on a connection of its own, as a client that lost the first answer would send it.
    async with mcp_client(alice, mode) as mcp:
        first = await tool_ok(mcp, "add_task", arguments)
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest:
        retried = await tool_ok(mcp, "add_task", arguments)
        assert retried == first
        assert (await rest_json(rest, "/api/dashboard"))["total"] == 1
        assert [task["id"] for task in (await rest_json(rest, "/api/tasks"))["items"]] == [first["task_id"]]

        other = await tool_refused(mcp, "add_task", {"title": "Something else", "idempotency_key": key})
        assert other.startswith("idempotency-key-reuse:"), other

        # A command retried under its key answers as the first time, not "already completed".
        complete = {"task_id": first["task_id"], "idempotency_key": f"e2e-{uuid.uuid4()}"}
        done = await tool_ok(mcp, "complete_task", complete)
        assert await tool_ok(mcp, "complete_task", complete) == done
        assert (await rest_json(rest, "/api/dashboard"))["completed"] == 1
