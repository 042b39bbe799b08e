"""Preferences refuse invalid values with a message naming the field, and survive a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.app.gui.preferences import Preferences, load_preferences, save_preferences
from memsa.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"top_k": 0}, "Documents to consider"),
        ({"top_k": 100_000}, "Documents to consider"),
        ({"device": "tpu"}, "Device"),
        ({"theme": "sepia"}, "Theme"),
        ({"model": "/no/such/model.gguf"}, "does not exist"),
        ({"ignore_rules": ("*.log", "!")}, "Ignore rules"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Preferences().with_changes(**changes)


def test_model_must_be_a_gguf_file_or_a_model_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInput, match="gguf"):
        Preferences(model=str(tmp_path / "notes.txt"))
    with pytest.raises(InvalidInput, match="config.json"):
        Preferences(model=str(tmp_path))
    with pytest.raises(InvalidInput, match="is a file"):
        Preferences(data_dir=tmp_path / "notes.txt")


def test_round_trip_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "config" / "preferences.json"
    chosen = Preferences(data_dir=tmp_path / "memory", top_k=8, theme="dark", ignore_rules=("drafts/",),
                         first_run_done=True)
    save_preferences(chosen, path)
    assert load_preferences(path) == chosen
    assert chosen.engine_settings().top_k == 8 and chosen.engine_settings().data_dir == tmp_path / "memory"

    path.write_text(json.dumps({**chosen.to_json(), "colour": "teal"}))
    with pytest.raises(InvalidInput, match="unknown preference colour"):
        Preferences.from_json(json.loads(path.read_text()))
    assert load_preferences(path) == Preferences()  # an unusable file falls back to the defaults
    path.write_text("{not json")
    assert load_preferences(path) == Preferences()
