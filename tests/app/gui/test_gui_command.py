"""`memsa gui` (and `memsa` alone) open the app; without a display they say so instead of crashing."""

from __future__ import annotations

import pytest

from memsa.app import cli


@pytest.mark.parametrize("argv", [["gui"], []])
def test_without_a_display_the_app_command_explains(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert cli.main(argv) == 2
    assert "no display" in capsys.readouterr().err
