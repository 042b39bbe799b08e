"""Retrieval quality and speed measured against real baselines: haystacks, needles, reports (`memsa eval`)."""
