"""pytest's side of the suite: async tests on asyncio (anyio's plugin, which the pinned `mcp`
brings), and the two protocol modes as a fixture for the tests that run in both."""

import pytest

from support import MODES, User


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def alice() -> User:
    return User.new("alice")


@pytest.fixture
def bob() -> User:
    return User.new("bob")
