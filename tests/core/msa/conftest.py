"""Tiny random MSA checkpoints, built once per test session."""

from __future__ import annotations

import pytest

from tests.core.msa.tiny_msa import TinyMsa, build_tiny_msa


@pytest.fixture(scope="session", params=["INFONCE", "INFONCE_DECOUPLE"])
def tiny_msa(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TinyMsa:
    """A checkpoint with cosine routing ("INFONCE") and one with scaled dot-product routing."""
    return build_tiny_msa(tmp_path_factory.mktemp(f"msa-{request.param.lower()}"), aux_loss_method=request.param)


@pytest.fixture(scope="session")
def tiny_cosine_msa(tmp_path_factory: pytest.TempPathFactory) -> TinyMsa:
    return build_tiny_msa(tmp_path_factory.mktemp("msa-cosine"))
