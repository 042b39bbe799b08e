"""The real embedded default model end to end through the CLI: ingest a folder, ask, get the cited fact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.real_text import stdlib_documents

pytestmark = pytest.mark.model

PLANTED = [
    ("The wifi password at the lake cabin is pinecone-harbor-42.",
     "What is the wifi password at the lake cabin?", "pinecone-harbor-42"),
    ("Aunt Margarethe's birthday is on the 17th of October, and she loves lilies.",
     "When is Aunt Margarethe's birthday?", "17"),
    ("The spare key for the garden shed is hidden under the blue flowerpot by the door.",
     "Where is the spare key for the garden shed hidden?", "flowerpot"),
]


def memsa(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "memsa.app.cli", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env={**os.environ})


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """~50 real-text notes; three of them carry a planted fact in the middle."""
    folder = tmp_path_factory.mktemp("archive")
    documents = stdlib_documents(50)
    assert len(documents) == 50
    planted_paths = {}
    for index, (title, text) in enumerate(documents):
        path = folder / f"{title}.md"
        if index in (7, 23, 41):
            fact, _, answer = PLANTED[(7, 23, 41).index(index)]
            middle = text.find("\n\n", len(text) // 2)
            text = text[:middle] + f"\n\n{fact}" + text[middle:] if middle > 0 else f"{text}\n\n{fact}"
            planted_paths[answer] = path
        path.write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    return folder, planted_paths


def test_ingest_then_ask_cites_the_planted_document(archive: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    folder, planted_paths = archive
    data_dir = tmp_path / "memory"
    ingested = memsa("ingest", str(folder), "--json", data_dir=data_dir)
    assert ingested.returncode == 0, ingested.stderr
    outcomes = json.loads(ingested.stdout)
    assert len(outcomes) == 50 and {outcome["status"] for outcome in outcomes} == {"added"}

    for _, question, answer in PLANTED:
        asked = memsa("ask", question, "--json", data_dir=data_dir)
        assert asked.returncode == 0, asked.stderr
        result = json.loads(asked.stdout)  # stdout holds exactly one JSON object
        assert set(result) == {"answer", "citations", "timings", "rounds"}
        top = result["citations"][0]
        assert top["path"] == str(planted_paths[answer]), (question, result["citations"])
        assert answer in top["snippet"]
        assert answer.lower() in result["answer"].lower(), (question, result["answer"])

    status = memsa("status", "--json", data_dir=data_dir)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["documents"] >= 50 and report["sources"] == 50 and report["bytes_on_disk"] > 0
