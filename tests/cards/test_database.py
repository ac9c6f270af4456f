"""Where the database is when DATABASE_URL does not say: the SQLite file in the data folder."""

from pathlib import Path

import pytest
from piccolo.engine.sqlite import SQLiteEngine

from cards.database import database_url, describe, engine_from_url


def test_the_default_database_follows_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    folder = tmp_path / "a folder with spaces"
    monkeypatch.setenv("PUNCHGUARD_DATA_DIR", str(folder))
    engine = engine_from_url(database_url())
    assert isinstance(engine, SQLiteEngine)
    assert Path(engine.path) == folder / "punchguard.sqlite3"
    assert folder.is_dir(), "the folder is made on first use"
    assert describe(database_url()) == f"sqlite: {folder / 'punchguard.sqlite3'}"


def test_database_url_wins_over_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PUNCHGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:secret@db.example/punchguard")
    assert database_url() == "postgresql://user:secret@db.example/punchguard"
    assert describe(database_url()) == "postgresql", "a password never reaches the log"
    monkeypatch.delenv("PUNCHGUARD_DATA_DIR")
    monkeypatch.delenv("DATABASE_URL")
    assert database_url() == "sqlite:///data/punchguard.sqlite3"
