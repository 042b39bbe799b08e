"""The app's preferences: typed, validated on construction, kept as JSON in the user's config folder."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pathspec
import platformdirs

from memsa.core.errors import InvalidInput
from memsa.core.settings import APP_NAME, EngineSettings, default_data_dir

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
MAX_TOP_K = 256
DEFAULT_IGNORES = ("*.tmp", "*~", "node_modules/", "__pycache__/")


def preferences_path() -> Path:
    """Where preferences live (e.g. ~/.config/memsa/preferences.json); outside the data folder they choose."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "preferences.json"


@dataclass(frozen=True)
class Preferences:
    """What the user chose in the first-run wizard and in Settings.

    Attributes:
        data_dir: where the memory and the conversation history are kept.
        model: a GGUF file or Hugging Face model folder; None for the embedded default.
        device: "cpu", "cuda" or "cuda:N".
        top_k: documents each router layer considers.
        ignore_rules: gitignore-style patterns of files never remembered.
        theme: "system", "light" or "dark".
        first_run_done: the wizard was completed.

    Raises:
        InvalidInput: any value out of range, with a message that names the field.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    model: str | None = None
    device: str = "cpu"
    top_k: int = 16
    ignore_rules: tuple[str, ...] = DEFAULT_IGNORES
    theme: str = "system"
    first_run_done: bool = False

    def __post_init__(self) -> None:
        if not str(self.data_dir).strip():
            raise InvalidInput("Data location: choose a folder.")
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise InvalidInput(f"Data location: {self.data_dir} is a file, not a folder.")
        if self.model is not None:
            model = Path(self.model).expanduser()
            if not model.exists():
                raise InvalidInput(f"Model: {model} does not exist.")
            if model.is_file() and model.suffix.lower() != ".gguf":
                raise InvalidInput("Model: choose a .gguf file or a Hugging Face model folder.")
            if model.is_dir() and not (model / "config.json").is_file():
                raise InvalidInput(f"Model: {model} holds no config.json; it is not a Hugging Face model folder.")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise InvalidInput(f"Device: unknown device {self.device!r}; use cpu or cuda.")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise InvalidInput(f"Documents to consider: choose a number from 1 to {MAX_TOP_K}.")
        if self.theme not in THEMES:
            raise InvalidInput(f"Theme: choose one of {', '.join(THEMES)}.")
        for rule in self.ignore_rules:
            try:
                pathspec.GitIgnoreSpec.from_lines([rule])
            except (ValueError, TypeError) as error:
                raise InvalidInput(f"Ignore rules: {rule!r} is not a valid pattern ({error}).") from error

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(data_dir=self.data_dir, model=self.model, device=self.device, top_k=self.top_k)

    def with_changes(self, **changes: Any) -> Preferences:
        """A copy with ``changes`` applied and validated."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["data_dir"] = str(self.data_dir)
        value["ignore_rules"] = list(self.ignore_rules)
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Preferences:
        """Rebuild from :meth:`to_json`; unknown keys are refused so a typo is never silently ignored.

        Raises:
            InvalidInput: unknown keys or invalid values.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidInput(f"unknown preference {', '.join(unknown)}")
        fields = dict(value)
        if "data_dir" in fields:
            fields["data_dir"] = Path(fields["data_dir"]).expanduser()
        if "ignore_rules" in fields:
            fields["ignore_rules"] = tuple(fields["ignore_rules"])
        return cls(**fields)


def load_preferences(path: Path) -> Preferences:
    """The saved preferences, or the defaults when none are saved or the file is unreadable (logged)."""
    if not path.is_file():
        return Preferences()
    try:
        return Preferences.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, InvalidInput) as error:
        log.warning("preferences at %s ignored: %s", path, error)
        return Preferences()


def save_preferences(preferences: Preferences, path: Path) -> None:
    """Write atomically: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(preferences.to_json(), indent=2), encoding="utf-8")
    temporary.replace(path)
