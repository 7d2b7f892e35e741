"""The embedded service alone (`sim`, from tests/transfers/conftest.py), for the faults it can
inject: these fixtures replace the three-server ones of tests/transfers for the tests in this
folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.transfers.jobs import ServerRef
from cl_desktop.transfers.queue import TransferQueue
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.jobs import started_queue


@pytest.fixture
def ref(sim: Any) -> ServerRef:
    return ServerRef(sim.base_url, SIM_USER)


@pytest.fixture
def queue(sim: Any, tmp_path: Path) -> Iterator[TransferQueue]:
    q = started_queue(tmp_path / "q.sqlite", SIM_USER, SIM_PASSWORD)
    yield q
    q.shutdown()
