"""Every command tool, each checked against what REST then reads: the same task, the same
version, the same shares, as the same user."""

import pytest

from support import User, mcp_client, rest_client, rest_json, tool_ok, tool_refused

pytestmark = pytest.mark.anyio


async def test_each_command_tool_changes_what_rest_reads(mode: str, alice: User, bob: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest, rest_client(bob) as bob_rest:
        added = await tool_ok(mcp, "add_task", {"title": "Write the e2e suite", "description": "in Python"})
        assert set(added) == {"task_id", "version", "position"}
        task_id = added["task_id"]
        path = f"/api/tasks/{task_id}"
        task = await rest_json(rest, path)
        assert (task["title"], task["description"], task["status"]) == ("Write the e2e suite", "in Python", "pending")
        assert (task["owner_id"], task["version"]) == (alice.id, added["version"])

        positions = [added["position"]]

        async def command(tool: str, **arguments: object) -> dict:
            done = await tool_ok(mcp, tool, {"task_id": task_id, **arguments})
            assert done["task_id"] == task_id, tool
            assert done["position"] > positions[-1], f"{tool} appended nothing: {done}"
            positions.append(done["position"])
            return done

        updated = await command("update_task", title="Write it well")
        task = await rest_json(rest, path)
        assert (task["title"], task["description"], task["version"]) == ("Write it well", "in Python", updated["version"])

        shared = await command("share_task", user_id=bob.id, permission="edit")
        task = await rest_json(rest, path)
        assert task["shares"] == [{"user_id": bob.id, "permission": "edit"}]
        assert task["version"] == shared["version"]
        assert (await rest_json(bob_rest, "/api/dashboard"))["can_edit"] == 1

        completed = await command("complete_task")
        task = await rest_json(rest, path)
        assert (task["status"], task["version"]) == ("completed", completed["version"])
        assert task["completed_at"] is not None

        reopened = await command("reopen_task")
        task = await rest_json(rest, path)
        assert (task["status"], task["version"]) == ("pending", reopened["version"])

        unshared = await command("unshare_task", user_id=bob.id)
        task = await rest_json(rest, path)
        assert (task["shares"], task["version"]) == ([], unshared["version"])
        assert (await rest_json(bob_rest, "/api/dashboard"))["shared"] == 0

        await command("delete_task")
        gone = await rest.get(path)
        assert gone.status_code == 404, gone.text
        assert (await rest_json(rest, "/api/dashboard"))["total"] == 0
        assert (await tool_refused(mcp, "get_task", {"task_id": task_id})).startswith("not-found:")


async def test_expected_version_guards_a_command(mode: str, alice: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest:
        added = await tool_ok(mcp, "add_task", {"title": "Guarded"})
        task_id = added["task_id"]
        stale = {"task_id": task_id, "title": "Stale", "expected_version": added["version"] + 1}
        assert (await tool_refused(mcp, "update_task", stale)).startswith("version-mismatch:")
        current = {"task_id": task_id, "title": "Current", "expected_version": added["version"]}
        assert (await tool_ok(mcp, "update_task", current))["version"] == added["version"] + 1
        assert (await rest_json(rest, f"/api/tasks/{task_id}"))["title"] == "Current"


async def test_each_team_tool_changes_what_rest_reads(mode: str, alice: User, bob: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest, rest_client(bob) as bob_rest:
        created = await tool_ok(mcp, "create_team", {"name": "Platform"})
        assert set(created) == {"team_id", "version", "position"}
        team_id = created["team_id"]
        path = f"/api/teams/{team_id}"
        team = await rest_json(rest, path)
        assert (team["name"], team["role"], team["version"]) == ("Platform", "admin", 1)

        added = await tool_ok(mcp, "set_team_member", {"team_id": team_id, "user_id": bob.id, "role": "member"})
        members = (await rest_json(bob_rest, path))["members"]
        assert {"user_id": bob.id, "role": "member"} in members
        assert added["version"] == 2
        assert (await tool_ok(mcp, "get_team", {"team_id": team_id})) == await rest_json(rest, path)
        assert (await tool_ok(mcp, "list_teams", {})) == await rest_json(rest, "/api/teams")

        left = {"team_id": team_id, "user_id": alice.id}
        assert (await tool_refused(mcp, "remove_team_member", left)).startswith("last-admin:")
        renamed = await tool_ok(mcp, "rename_team", {"team_id": team_id, "name": "Infra", "expected_version": 2})
        assert (await rest_json(rest, path))["name"] == "Infra"
        await tool_ok(mcp, "delete_team", {"team_id": team_id, "expected_version": renamed["version"]})
        gone = await bob_rest.get(path)
        assert gone.status_code == 404, gone.text
