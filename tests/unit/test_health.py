"""The app answers /health without auth and before anything else is configured."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from hexa.app import create_app
from hexa.config import Settings


def test_health_answers(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        reply = client.get("/health")
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"
