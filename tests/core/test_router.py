"""Router projectors: save/load round trip without pickle, fingerprints, lookup by model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from memsa.core.errors import RouterUnavailable
from memsa.core.router import RouterProjectors, RouterSpec, find_router, router_file_name


def _router(fingerprint: str = "ab" * 32) -> RouterProjectors:
    torch.manual_seed(0)
    spec = RouterSpec(layers=(1, 2), hidden_size=16, n_heads=2, head_dim=4, cosine=True, router_chunk_tokens=4,
                      model_fingerprint=fingerprint, abstain_below=0.25, recipe={"command": "x", "pairs": 3})
    router = RouterProjectors(spec)
    router.layer(1).input_mean.fill_(0.5)
    return router


def test_save_load_round_trip(tmp_path: Path) -> None:
    router = _router()
    router.save(tmp_path / "r.safetensors")
    loaded = RouterProjectors.load(tmp_path / "r.safetensors")
    assert loaded.spec == router.spec
    for name, tensor in router.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    assert loaded.fingerprint() == router.fingerprint()


def test_fingerprint_changes_with_weights() -> None:
    first, second = _router(), _router()
    assert first.fingerprint() == second.fingerprint()
    with torch.no_grad():
        second.layer(2).router_k_proj.weight[0, 0] += 1e-3
    assert first.fingerprint() != second.fingerprint()


def test_find_router_prefers_user_folder_and_checks_model(tmp_path: Path) -> None:
    fingerprint = "cd" * 32
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    _router(fingerprint).save(shipped / router_file_name(fingerprint))
    assert find_router(fingerprint, [user, shipped], "m").spec.model_fingerprint == fingerprint
    with pytest.raises(RouterUnavailable, match="memsa train-router"):
        find_router("ef" * 32, [user, shipped], "other-model")


def test_files_without_query_reduction_load_as_max_and_keep_their_fingerprint(tmp_path: Path) -> None:
    """Routers saved before ``query_reduction`` existed route as before and keep their fingerprint."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    router = _router()
    router.save(tmp_path / "new.safetensors")
    with safe_open(str(tmp_path / "new.safetensors"), framework="pt") as handle:
        spec = json.loads(handle.metadata()["memsa_router_spec"])
    del spec["query_reduction"]
    save_file(load_file(str(tmp_path / "new.safetensors")), str(tmp_path / "old.safetensors"),
              metadata={"memsa_router_spec": json.dumps(spec)})
    old = RouterProjectors.load(tmp_path / "old.safetensors")
    assert old.spec.query_reduction == "max"
    assert old.fingerprint() == router.fingerprint()
    mean = RouterProjectors(RouterSpec(**{**spec, "layers": (1, 2), "query_reduction": "mean"}))
    mean.load_state_dict(router.state_dict())
    assert mean.fingerprint() != router.fingerprint()
    with pytest.raises(ValueError, match="query_reduction"):
        RouterSpec(**{**spec, "layers": (1, 2), "query_reduction": "sum"})


def test_mean_reduction_routes_with_the_masked_token_mean() -> None:
    spec = _router().spec
    router = RouterProjectors(RouterSpec(**{**spec.__dict__, "query_reduction": "mean"}))
    hidden = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    queries = router.router_queries(1, hidden, mask)
    assert queries.shape == (2, 1, 8)
    alone = router.router_queries(1, hidden[1, :2])
    torch.testing.assert_close(queries[1], alone)
    module = router.layer(1)
    mean = module.router_q_proj(module.standardise(hidden[0])).mean(0).view(2, 4)
    expected = torch.nn.functional.normalize(mean, dim=-1).flatten() / 2
    torch.testing.assert_close(queries[0, 0], expected)


def test_weighted_reduction_starts_as_the_mean_and_learns_token_weights(tmp_path: Path) -> None:
    spec = _router().spec
    mean = RouterProjectors(RouterSpec(**{**spec.__dict__, "query_reduction": "mean"}))
    weighted = RouterProjectors(RouterSpec(**{**spec.__dict__, "query_reduction": "weighted"}))
    weighted.load_state_dict({**mean.state_dict(), **{f"per_layer.{layer}.router_q_weight.weight": torch.zeros(1, 16)
                                                     for layer in spec.layers}})
    hidden = torch.randn(4, 16)
    torch.testing.assert_close(weighted.router_queries(1, hidden), mean.router_queries(1, hidden))
    with torch.no_grad():
        weighted.layer(1).router_q_weight.weight.fill_(0.5)  # type: ignore[union-attr]
    assert not torch.allclose(weighted.router_queries(1, hidden), mean.router_queries(1, hidden))
    weighted.save(tmp_path / "w.safetensors")
    loaded = RouterProjectors.load(tmp_path / "w.safetensors")
    torch.testing.assert_close(loaded.router_queries(1, hidden), weighted.router_queries(1, hidden))
    assert "per_layer.1.router_q_weight.weight" not in mean.state_dict()


def test_late_reduction_keeps_every_token_scaled_by_its_weight() -> None:
    """"late" queries are the per-token cosine vectors times each token's softmax weight (padding: 0)."""
    spec = _router().spec
    late = RouterProjectors(RouterSpec(**{**spec.__dict__, "query_reduction": "late"}))
    with torch.no_grad():
        late.layer(1).router_q_weight.weight.normal_()  # type: ignore[union-attr]
    hidden = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    queries = late.router_queries(1, hidden, mask)
    assert queries.shape == (2, 5, 8)
    assert torch.count_nonzero(queries[1, 3:]) == 0
    torch.testing.assert_close(queries[1, :3], late.router_queries(1, hidden[1, :3]))
    module = late.layer(1)
    standardised = module.standardise(hidden[0])
    weights = torch.softmax(module.router_q_weight(standardised).squeeze(-1), dim=0)  # type: ignore[misc]
    heads = torch.nn.functional.normalize(module.router_q_proj(standardised).view(5, 2, 4), dim=-1)
    torch.testing.assert_close(queries[0], heads.view(5, 8) * weights[:, None] / 2)
    assert "per_layer.1.router_q_weight.weight" in late.state_dict()


def test_mixed_reduction_is_half_the_pooled_vector_and_half_the_late_tokens() -> None:
    spec = _router().spec
    kinds = {kind: RouterProjectors(RouterSpec(**{**spec.__dict__, "query_reduction": kind}))
             for kind in ("weighted", "late", "mixed")}
    with torch.no_grad():
        kinds["weighted"].layer(1).router_q_weight.weight.normal_()  # type: ignore[union-attr]
    for kind in ("late", "mixed"):
        kinds[kind].load_state_dict(kinds["weighted"].state_dict())
    hidden = torch.randn(3, 6, 16)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] + [False] * 5])
    mixed = kinds["mixed"].router_queries(1, hidden, mask)
    assert mixed.shape == (3, 7, 8)
    torch.testing.assert_close(mixed[:, :1], kinds["weighted"].router_queries(1, hidden, mask) / 2)
    torch.testing.assert_close(mixed[:, 1:], kinds["late"].router_queries(1, hidden, mask) / 2)
