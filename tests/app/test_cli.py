"""The memsa command line on a tiny random model: commands, JSON output, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.app.cli import main
from tests.support.tiny_models import TinyModel, install_router


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "cabin.md").write_text("# cabin\n\nthe wifi password at the lake cabin is tango 4 2 .\n")
    (folder / "work.txt").write_text("the manager meeting is at the office .\n")
    (folder / "broken.txt").write_bytes(b"\x00\x01binary")
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_ask_status_forget(tiny_llama: TinyModel, data_dir: Path, notes: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    common = ["--data-dir", str(data_dir), "--model", str(tiny_llama.path)]
    code, out, _ = run(capsys, "ingest", str(notes), "--json", *common)
    outcomes = {Path(item["path"]).name: item for item in json.loads(out)}
    assert code == 1  # one file failed
    assert outcomes["cabin.md"]["status"] == "added" and outcomes["work.txt"]["status"] == "added"
    assert outcomes["broken.txt"]["status"] == "failed" and "binary" in outcomes["broken.txt"]["reason"]

    code, out, _ = run(capsys, "ingest", str(notes / "cabin.md"), *common)
    assert code == 0 and "1 unchanged" in out

    code, out, _ = run(capsys, "ask", "what is the wifi password ?", "--json", "--top-k", "2", *common)
    result = json.loads(out)  # exactly one JSON object on stdout
    assert code == 0 and set(result) == {"answer", "citations", "timings", "rounds"}
    for citation in result["citations"]:
        assert set(citation) == {"doc_id", "path", "start", "end", "score", "snippet", "anchor"}
        source = Path(citation["path"]).read_text()
        assert citation["snippet"] in source
    for number, round_ in enumerate(result["rounds"], start=1):
        assert round_["round"] == number and set(round_) == {"round", "query", "documents", "ignored_ids", "outcome"}
        assert all(set(doc) == {"doc_id", "path", "score", "relative_score"} for doc in round_["documents"])

    code, out, _ = run(capsys, "ask", "what is the wifi password ?", "--json", "--rounds", "1", *common)
    assert code == 0 and len(json.loads(out)["rounds"]) == 1

    code, out, _ = run(capsys, "status", "--json", *common)
    assert code == 0 and json.loads(out)["sources"] == 2

    code, out, _ = run(capsys, "forget", str(notes / "work.txt"), *common)
    assert code == 0 and "forgot 1 document" in out
    code, out, _ = run(capsys, "status", *common)
    assert code == 0 and "sources" in out


def test_options_work_before_the_command_name(tiny_llama: TinyModel, data_dir: Path, notes: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    code, out, _ = run(capsys, "--data-dir", str(data_dir), "--model", str(tiny_llama.path), "status", "--json")
    assert code == 0 and json.loads(out)["documents"] == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["ingest", "/no/such/folder"], "no such file or folder"),
        (["ask", "   "], "the question is empty"),
        (["ask", "x", "--top-k", "0"], "--top-k must be at least 1"),
        (["ask", "x", "--rounds", "0"], "--rounds must be between 1 and 16"),
        (["status", "--model", "/no/model.gguf"], "no model at /no/model.gguf"),
        (["status", "--device", "tpu"], "unknown device"),
    ],
)
def test_user_mistakes_are_one_line_and_nonzero(args: list[str], message: str, data_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *args, "--data-dir", str(data_dir))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_forgetting_something_unknown_is_an_error(tiny_llama: TinyModel, data_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    code, _, err = run(capsys, "forget", "/nothing/here", "--data-dir", str(data_dir), "--model", str(tiny_llama.path))
    assert code == 2 and "memory holds nothing from /nothing/here" in err
