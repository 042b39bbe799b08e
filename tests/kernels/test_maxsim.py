"""Routing max-sim: naive vs brute force, fused (Triton interpreter) vs naive, and the backend choice."""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch
from torch import Tensor

from memsa.kernels.maxsim import BACKEND_ENV_VAR, choose_backend, maxsim_scores, naive

ScoreFn = Callable[..., Tensor]
SHAPES = [(tq, c, d) for tq in (1, 7, 33) for c in (1, 5, 300, 1000) for d in (16, 48, 72)]
# Both backends multiply exactly in fp32 (fp16 * fp16 fits), so only the summation order differs.
RELATIVE_TOLERANCE = {torch.float32: 1e-5, torch.float16: 1e-5, torch.bfloat16: 1e-5}


def relative_error(actual: Tensor, expected: Tensor) -> float:
    """||actual - expected|| / ||expected||, in float64."""
    expected = expected.double()
    return ((actual.double() - expected).norm() / expected.norm().clamp_min(1e-12)).item()


def make_inputs(tq: int, c: int, d: int, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Seeded queries [tq, d] and keys [c, d]."""
    generator = torch.Generator().manual_seed(tq * 1_000_003 + c * 101 + d)
    queries = torch.randn(tq, d, generator=generator).to(dtype)
    keys = torch.randn(c, d, generator=generator).to(dtype)
    return queries, keys


def brute_force(queries: Tensor, keys: Tensor) -> Tensor:
    """The whole [Tq, C] score matrix in float64, then the max over queries: [C]."""
    return (queries.double() @ keys.double().T).amax(0)


@pytest.fixture(scope="module")
def interpreted_fused() -> Iterator[ScoreFn]:
    """``fused.maxsim_scores`` run by a child process started with TRITON_INTERPRET=1, so it runs on CPU.

    Triton picks interpreter or compiler when it (and each kernel) is imported, so a fresh spawned
    process is the one place the choice is certain, whatever this process imported before; it also
    leaves this process's triton compiled for the GPU test below. Exceptions come back from the child.
    """
    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed (pip install triton; its interpreter needs only numpy), "
                    "so the fused kernel cannot be checked on CPU")
    from memsa.kernels.maxsim import fused

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRITON_INTERPRET", "1")
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        # The first call starts the child while the variable is set; it fails if the child compiles.
        pool.submit(fused.maxsim_scores, torch.ones(1, 16), torch.ones(1, 16)).result()

    def run_in_child(queries: Tensor, keys: Tensor, out: Tensor | None = None) -> Tensor:
        return pool.submit(fused.maxsim_scores, queries, keys, out=out).result()

    yield run_in_child
    pool.shutdown()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("tq", "c", "d"), SHAPES)
def test_naive_matches_brute_force(tq: int, c: int, d: int, dtype: torch.dtype) -> None:
    queries, keys = make_inputs(tq, c, d, dtype)
    scores = naive.maxsim_scores(queries, keys)
    assert scores.shape == (c,) and scores.dtype == torch.float32
    assert relative_error(scores, brute_force(queries, keys)) < RELATIVE_TOLERANCE[dtype]


@pytest.mark.parametrize("block_rows", [1, 7, 299, 300, 4096])
def test_naive_blocks_over_keys(block_rows: int) -> None:
    queries, keys = make_inputs(33, 300, 48)
    scores = naive.maxsim_scores(queries, keys, block_rows=block_rows)
    assert relative_error(scores, brute_force(queries, keys)) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(("tq", "c", "d"), SHAPES)
def test_fused_matches_naive(interpreted_fused: ScoreFn, tq: int, c: int, d: int, dtype: torch.dtype) -> None:
    queries, keys = make_inputs(tq, c, d, dtype)
    scores = interpreted_fused(queries, keys)
    assert scores.shape == (c,) and scores.dtype == torch.float32
    assert relative_error(scores, naive.maxsim_scores(queries, keys)) < RELATIVE_TOLERANCE[dtype]


def test_fused_masks_padded_queries_when_every_score_is_negative(interpreted_fused: ScoreFn) -> None:
    # Tq=7 fills 7 of a 16-wide query tile; unmasked padding would score 0 and beat every real score.
    queries, keys = make_inputs(7, 300, 48)
    queries, keys = queries.abs(), -keys.abs()
    scores = interpreted_fused(queries, keys)
    assert (scores < 0).all()
    assert relative_error(scores, brute_force(queries, keys)) < 1e-5


def test_fused_reads_strided_keys_and_other_query_dtypes(interpreted_fused: ScoreFn) -> None:
    queries, keys = make_inputs(33, 300, 72, torch.float16)
    column_major_keys = keys.T.contiguous().T  # [C, D] with strides (1, C)
    scores = interpreted_fused(queries.float(), column_major_keys)
    assert relative_error(scores, naive.maxsim_scores(queries, keys)) < 1e-5


@pytest.mark.parametrize("block_rows", [7, 16384])
def test_naive_writes_every_row_of_a_nan_poisoned_buffer(block_rows: int) -> None:
    queries, keys = make_inputs(33, 1000, 72)
    out = torch.full((1000,), float("nan"))
    scores = naive.maxsim_scores(queries, keys, block_rows, out=out)
    assert scores.data_ptr() == out.data_ptr()
    assert not out.isnan().any()
    assert relative_error(out, brute_force(queries, keys)) < 1e-5


def test_fused_writes_every_row_of_a_nan_poisoned_buffer(interpreted_fused: ScoreFn) -> None:
    queries, keys = make_inputs(33, 1000, 72)
    out = torch.full((1000,), float("nan"))
    scores = interpreted_fused(queries, keys, out=out)  # the child's copy of ``out``, filled
    assert not scores.isnan().any()
    assert relative_error(scores, brute_force(queries, keys)) < 1e-5


def test_empty_keys_give_empty_scores(interpreted_fused: ScoreFn) -> None:
    queries, keys = make_inputs(7, 0, 48)
    for backend in (naive.maxsim_scores, interpreted_fused, maxsim_scores):
        scores = backend(queries, keys)
        assert scores.shape == (0,) and scores.dtype == torch.float32


def test_compiled_fused_refuses_cpu_keys() -> None:
    fused = pytest.importorskip("memsa.kernels.maxsim.fused", reason="triton is not installed")
    if fused.INTERPRETED:
        pytest.skip("TRITON_INTERPRET=1 is set for the whole run, so CPU keys are allowed")
    with pytest.raises(ValueError, match="needs CUDA keys"):
        fused.maxsim_scores(*make_inputs(7, 5, 16))


def test_fused_refuses_bfloat16_under_the_interpreter(interpreted_fused: ScoreFn) -> None:
    queries, keys = make_inputs(7, 5, 16, torch.bfloat16)
    with pytest.raises(ValueError, match="bfloat16"):
        interpreted_fused(queries, keys)


@pytest.mark.parametrize(
    ("queries", "keys", "kwargs", "message"),
    [
        (torch.randn(0, 16), torch.randn(5, 16), {}, "at least one query"),
        (torch.randn(3, 16), torch.randn(5, 8), {}, "D=16"),
        (torch.randn(16), torch.randn(5, 16), {}, r"\[Tq, D\]"),
        (torch.randn(3, 16), torch.randint(0, 9, (5, 16)), {}, "floating-point"),
        (torch.randn(3, 16), torch.randn(5, 16), {"block_rows": 0}, "block_rows"),
        (torch.randn(3, 16), torch.randn(5, 16), {"out": torch.empty(4)}, "out must be"),
        (torch.randn(3, 16), torch.randn(5, 16), {"out": torch.empty(5, dtype=torch.float64)}, "out must be"),
    ],
)
def test_naive_rejects_bad_inputs(queries: Tensor, keys: Tensor, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        naive.maxsim_scores(queries, keys, **kwargs)


def test_default_backend_on_cpu_is_naive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    assert choose_backend(torch.empty(4, 8)) == "naive"


def test_env_var_forces_a_backend_and_the_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV_VAR, "fused")
    assert choose_backend(torch.empty(4, 8)) == "fused"
    assert choose_backend(torch.empty(4, 8), backend="naive") == "naive"


def test_unknown_backend_is_rejected_from_argument_or_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="turbo"):
        choose_backend(torch.empty(4, 8), backend="turbo")
    monkeypatch.setenv(BACKEND_ENV_VAR, "turbo")
    with pytest.raises(ValueError, match="turbo"):
        choose_backend(torch.empty(4, 8))


def test_dispatcher_scores_like_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)
    queries, keys = make_inputs(7, 300, 48)
    assert relative_error(maxsim_scores(queries, keys), brute_force(queries, keys)) < 1e-5


GPU_SHAPES = [(1, 5, 64), (33, 1000, 72), (32, 100_003, 576), (512, 4099, 1024)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU to compile the Triton kernel")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize(("tq", "c", "d"), GPU_SHAPES)
def test_compiled_fused_matches_naive_on_gpu(tq: int, c: int, d: int, dtype: torch.dtype) -> None:
    from memsa.kernels.maxsim import fused as compiled

    queries, keys = (t.cuda() for t in make_inputs(tq, c, d, dtype))
    out = torch.full((c,), float("nan"), device="cuda")
    scores = compiled.maxsim_scores(queries, keys, out=out)
    assert not scores.isnan().any()
    assert relative_error(scores, naive.maxsim_scores(queries, keys)) < 1e-5
