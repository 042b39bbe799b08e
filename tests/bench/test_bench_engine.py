"""bench/bench_engine.py: its options and its table, measured on a tiny random model (no timing asserted)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

from memsa.core.encoding import EncodingConfig
from memsa.core.engine import MemoryEngine
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router, random_text

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_engine.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark script imported as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_default_options_keep_each_measure_s_own_repeats(bench: ModuleType) -> None:
    args = bench.parse_arguments([])
    assert (args.threads, args.repeats, args.sizes, args.device, args.documents) == (
        None, None, [100000, 1000000], "cpu", 48)
    args = bench.parse_arguments(["--sizes", "2000,500", "--threads", "2", "--repeats", "3", "--documents", "6"])
    assert (args.threads, args.repeats, args.sizes, args.documents) == (2, 3, [2000, 500], 6)


@pytest.mark.parametrize("option", [["--threads", "0"], ["--repeats", "-1"], ["--sizes", "100,0"],
                                    ["--repeats", "two"], ["--documents", "1"]])
def test_counts_below_one_are_refused(bench: ModuleType, option: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_arguments(option)
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


def _rows(bench: ModuleType, model: TinyModel, data_dir: Path, repeats: int | None) -> list:
    install_router(model, data_dir)
    rng = random.Random(0)
    texts = [random_text(rng, 60) for _ in range(4)]
    settings = EngineSettings(data_dir=data_dir, model=str(model.path), encoding=EncodingConfig(chunk_tokens=8))
    with MemoryEngine.open(settings) as engine:
        return bench.measure(engine, texts, [30000, 1000], repeats)  # one and two filler batches


def _numbers(text: str) -> float:
    return float(text.replace(",", ""))


def test_repeats_fill_the_range_columns(bench: ModuleType, tiny_llama: TinyModel, data_dir: Path) -> None:
    rows = _rows(bench, tiny_llama, data_dir, repeats=2)
    measures = [row.measure for row in rows]
    assert measures[:3] == ["machine", "model", "encoding tokens/s (memsa stage 1)"]
    assert "torch answers" in rows[0].detail  # an HF model answers with torch, never llama.cpp
    assert not any("llama.cpp" in measure for measure in measures)
    sized = [measure.split(" @ ") for measure in measures if "@" in measure]
    assert [name for name, _ in sized] == ["routing ms/question", "routing + re-reading ms/question",
                                           "first answer token ms", "bytes per memory token"] * 2
    labels = [label.removesuffix(" tokens") for _, label in sized]
    assert labels[:4] == [labels[0]] * 4 and labels[4:] == [labels[4]] * 4
    assert 1000 <= _numbers(labels[0][:-1]) * 1000 < 30000 <= _numbers(labels[4][:-1]) * 1000  # ascending sizes
    timed = [row for row in rows if row.runs]
    assert len(timed) == 7 and {row.runs for row in timed} == {"2"}
    for row in timed:
        assert _numbers(row.low) <= _numbers(row.value) <= _numbers(row.high)
    assert all(not (row.low or row.high) for row in rows if not row.runs)

    table = bench.format_table(rows).splitlines()
    assert len(table) == 3 + len(rows)
    header = table[1].split()
    assert header == ["measure", "value", "min", "max", "runs", "detail"]
    value_end = table[1].index("value") + len("value")
    for row, line in zip(rows, table[3:], strict=True):
        assert line.startswith(row.measure)
        if row.value:  # values, mins and maxes are right-aligned under their headings
            assert line[:value_end].endswith(row.value)
        if row.runs:
            assert f"{row.low}  " in line and f"{row.high}  " in line and line.rstrip().endswith(row.detail)


def test_without_repeats_each_measure_keeps_its_count(bench: ModuleType, tiny_llama: TinyModel,
                                                      data_dir: Path) -> None:
    rows = {row.measure.split(" @ ")[0]: row for row in _rows(bench, tiny_llama, data_dir, repeats=None)}
    assert rows["encoding tokens/s (memsa stage 1)"].runs == str(bench.DEFAULT_REPEATS["encoding"])
    assert rows["routing ms/question"].runs == str(bench.DEFAULT_REPEATS["routing"])
    assert rows["routing + re-reading ms/question"].runs == str(bench.DEFAULT_REPEATS["routing"])
    assert rows["first answer token ms"].runs == str(bench.DEFAULT_REPEATS["first_token"])
