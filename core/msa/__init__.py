"""Checkpoints trained with the MSA protocol (EverMind-AI/MSA format) and sparse generation over compressed KV."""
