"""Connecting: the handshake (or discovery) with the pinned client, the tool list with its
schemas, and what a client without a token is told."""

import pytest

from support import (
    ALL_TOOLS,
    COMMANDS,
    LEGACY,
    NEWEST,
    QUERIES,
    TEAM_COMMANDS,
    User,
    base_url,
    http_client,
    mcp_client,
)

pytestmark = pytest.mark.anyio

REQUIRED = {
    "add_task": {"title"},
    "update_task": {"task_id"},
    "complete_task": {"task_id"},
    "reopen_task": {"task_id"},
    "delete_task": {"task_id"},
    "share_task": {"task_id", "user_id", "permission"},
    "unshare_task": {"task_id", "user_id"},
    "list_tasks": set(),
    "get_task": {"task_id"},
    "task_history": {"task_id"},
    "get_dashboard": set(),
    "get_trend": set(),
    "create_team": {"name"},
    "rename_team": {"team_id", "name"},
    "delete_team": {"team_id"},
    "set_team_member": {"team_id", "user_id", "role"},
    "remove_team_member": {"team_id", "user_id"},
    "list_teams": set(),
    "get_team": {"team_id"},
    "share_task_with_team": {"task_id", "team_id", "permission"},
    "unshare_task_from_team": {"task_id", "team_id"},
    "list_team_tasks": {"team_id"},
    "get_team_dashboard": {"team_id"},
}


@pytest.mark.parametrize("mode, version", [("auto", NEWEST), ("legacy", LEGACY)])
async def test_the_client_connects_at_its_protocol_version(mode: str, version: str) -> None:
    async with mcp_client(User.new(), mode) as client:
        assert client.protocol_version == version
        assert client.server_info is not None and client.server_info.name == "tally"
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.resources is not None, "no resources capability"
        assert client.instructions


async def test_every_tool_is_listed_with_its_schemas(mode: str) -> None:
    async with mcp_client(User.new(), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == ALL_TOOLS
    for name, tool in tools.items():
        assert tool.description, name
        inputs, outputs = tool.input_schema, tool.output_schema
        assert inputs["type"] == "object", name
        assert set(inputs.get("required", [])) == REQUIRED[name], name
        assert outputs is not None and outputs["type"] == "object", f"{name}: no output schema"
        assert tool.annotations is not None, name
        assert tool.annotations.read_only_hint == (name in QUERIES), name
        if name in COMMANDS:
            properties = set(inputs["properties"])
            assert "idempotency_key" in properties, name
            creates = name in ("add_task", "create_team")
            assert ("expected_version" in properties) == (not creates), name
            stream = "team_id" if name in TEAM_COMMANDS else "task_id"
            assert {stream, "version", "position"} <= set(outputs["properties"]), name
    for destructive in (
        "delete_task",
        "unshare_task",
        "delete_team",
        "remove_team_member",
        "unshare_task_from_team",
    ):
        assert tools[destructive].annotations.destructive_hint is True, destructive
    assert tools["add_task"].annotations.idempotent_hint is False
    assert tools["create_team"].annotations.idempotent_hint is False


async def test_without_a_token_the_answer_names_where_tokens_come_from() -> None:
    base = base_url()
    metadata_url = f"{base}/.well-known/oauth-protected-resource"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "tally-e2e", "version": "0"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    async with http_client(None) as http:
        for token in (None, "not-a-jwt"):
            headers = dict(accept, **({"Authorization": f"Bearer {token}"} if token else {}))
            answer = await http.post(f"{base}/mcp", json=initialize, headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["type"] == "unauthorized"
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith("Bearer "), challenge
            assert f'resource_metadata="{metadata_url}"' in challenge, challenge

        metadata = await http.get(metadata_url)
    assert metadata.status_code == 200, metadata.text
    assert metadata.json()["resource"] == f"{base}/mcp"
    assert metadata.json()["bearer_methods_supported"] == ["header"]

