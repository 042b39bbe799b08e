"""Memory Interleave: rounds of routing and reading before the answer (see ``machine`` and ``rounds``)."""
