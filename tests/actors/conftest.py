"""The world every actor table runs in (see `harness`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.actors.harness import World, running


@pytest.fixture
async def world() -> AsyncIterator[World]:
    """Actors over a fake context: BOSS is an approver, the tree is `sample_tree()`."""
    async with running() as started:
        yield started
