"""One engine with the starter model and one API server on a free port, shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.core.engine.client import EngineClient
from app.core.engine.protocol import LoadModel
from app.core.engine.turns import EngineTurns
from app.core.models.library import starter_model_path
from app.core.serve.server import ApiServer
from app.core.serve.shared_engine import SharedEngine

KEY = "qd-test-key"


@dataclass
class Served:
    client: EngineClient
    turns: EngineTurns
    engine: SharedEngine
    server: ApiServer

    @property
    def base_url(self) -> str:
        return self.server.address.base_url


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    client = EngineClient()
    try:
        # one thread: on a shared 2-core machine two OpenMP threads crawl whenever another process takes a core
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=2048, n_threads=1))
        turns = EngineTurns(client.stop_generation)
        engine = SharedEngine(client, turns)
        server = ApiServer(engine, lambda: KEY, port=0)
        server.start()
        try:
            yield Served(client, turns, engine, server)
        finally:
            server.stop()
    finally:
        client.close()
