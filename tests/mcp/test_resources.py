"""The dashboard as a resource: readable as the REST answer, and a subscription to it hears
when another client (REST, the same user) changes the figures, the way each protocol version
defines subscribing: `subscriptions/listen` at 2026-07-28 (what the pinned client negotiates by
default), `resources/subscribe` with `notifications/resources/updated` at 2025-11-25."""

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.subscriptions import ResourceUpdated

from support import PATIENCE, User, mcp_client, rest_client, rest_json

pytestmark = pytest.mark.anyio

DASHBOARD = "tally://dashboard"
TREND = "tally://dashboard/trend"


async def read_json(client: Client, uri: str) -> Any:
    # Bypass the client's cache: each read must reach the server.
    result = await client.read_resource(uri, cache_mode="bypass")
    (contents,) = result.contents
    assert contents.uri == uri and contents.mime_type == "application/json", contents
    return json.loads(contents.text)


async def test_the_dashboard_resources_read_as_rest_answers(mode: str, alice: User) -> None:
    async with mcp_client(alice, mode) as mcp, rest_client(alice) as rest:
        listed = {resource.uri for resource in (await mcp.list_resources()).resources}
        assert {DASHBOARD, TREND} <= listed
        created = await rest.post("/api/tasks", json={"title": "Counted"})
        assert created.status_code == 201, created.text
        assert (await read_json(mcp, DASHBOARD))["total"] == 1
        assert await read_json(mcp, DASHBOARD) == await rest_json(rest, "/api/dashboard")
        assert await read_json(mcp, TREND) == await rest_json(rest, "/api/dashboard/trend")


async def completed_over_rest(alice: User) -> str:
    """A task of Alice's, created over REST; returns the path that completes it."""
    async with rest_client(alice) as rest:
        created = await rest.post("/api/tasks", json={"title": "Finish me"})
        assert created.status_code == 201, created.text
        return f"/api/tasks/{created.json()['task_id']}/complete"


async def complete(alice: User, path: str) -> None:
    async with rest_client(alice) as rest:
        done = await rest.post(path)
        assert done.status_code == 200, done.text


async def test_listen_hears_a_rest_command(alice: User) -> None:
    complete_path = await completed_over_rest(alice)
    async with mcp_client(alice) as mcp:
        assert mcp.protocol_version == "2026-07-28"
        async with mcp.listen(resource_subscriptions=[DASHBOARD]) as subscription:
            assert subscription.honored.resource_subscriptions == [DASHBOARD]
            await complete(alice, complete_path)
            # Until the figures read after a notification show the completion: a notification
            # of the earlier create, late, is not the one this test waits for.
            with anyio.fail_after(PATIENCE):
                async for event in subscription:
                    assert isinstance(event, ResourceUpdated) and event.uri == DASHBOARD, event
                    if (await read_json(mcp, DASHBOARD))["completed"] == 1:
                        break


async def test_resources_subscribe_hears_a_rest_command(alice: User) -> None:
    complete_path = await completed_over_rest(alice)
    updates, heard = anyio.create_memory_object_stream[str](16)

    async def on_message(message: types.ServerNotification | Exception) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            await updates.send(message.params.uri)

    async with updates, heard, mcp_client(alice, "legacy", message_handler=on_message) as mcp:
        assert mcp.protocol_version == "2025-11-25"
        assert mcp.server_capabilities.resources.subscribe is True
        await mcp.subscribe_resource(DASHBOARD)
        await complete(alice, complete_path)
        with anyio.fail_after(PATIENCE):
            async for uri in heard:
                assert uri == DASHBOARD
                if (await read_json(mcp, DASHBOARD))["completed"] == 1:
                    break
