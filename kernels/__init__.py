"""Compute kernels for memsa: plain PyTorch references beside fused Triton versions."""
