"""``memsa ask --json --model <MSA checkpoint folder>``: the JSON lists every round the model drove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.app.cli import main
from memsa.core.interleave.rounds import RoundOutcome
from tests.core.msa.tiny_msa import NOTES, TinyMsa


def test_ask_json_lists_the_rounds_an_msa_model_drove(scripted_msa: TinyMsa, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for number, text in enumerate(NOTES[:4]):
        (notes / f"note{number}.txt").write_text(text + "\n")
    common = ["--data-dir", str(tmp_path / "data"), "--model", str(scripted_msa.path)]
    assert main(["ingest", str(notes), "--json", *common]) == 0
    capsys.readouterr()

    assert main(["ask", "who is the manager ?", "--json", *common]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answer"] == "kilo lima mike"
    first, second = result["rounds"]
    assert (first["round"], first["outcome"], first["ignored_ids"]) == (1, RoundOutcome.FOLLOW_UP.value, [9])
    assert [doc["doc_id"] for doc in first["documents"]] == [3]
    assert Path(first["documents"][0]["path"]).parent == notes
    assert (second["round"], second["outcome"], second["documents"]) == (2, RoundOutcome.MODEL_SATISFIED.value, [])
    assert second["query"].startswith("who is the manager ?\n[3]. ")
    (citation,) = result["citations"]
    assert citation["doc_id"] == 3 and citation["snippet"] in Path(citation["path"]).read_text()

    assert main(["ask", "who is the manager ?", "--json", "--rounds", "1", *common]) == 0
    rounds = json.loads(capsys.readouterr().out)["rounds"]
    assert [(item["round"], item["outcome"]) for item in rounds] == [(1, RoundOutcome.ROUND_CAP.value)]
