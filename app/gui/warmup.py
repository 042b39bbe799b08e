"""Loads the engine's heavy libraries on the GUI thread before the window appears.

Importing a library holds the interpreter lock for the length of each C extension's initialisation and of much
of its module code. Done on the engine thread while the window is up, that froze the window for up to a second
(measured with the stall monitor while memory opened); done first, the window appears a little later and then
never waits for an import.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time

log = logging.getLogger(__name__)

# What opening the engine, reading files and answering import, found by tracing first imports.
WARM_MODULES = (
    "memsa.core.engine",  # torch._dynamo, the engine's own modules
    "memsa.ingest.watching",  # watchdog, the readers
    "transformers.modeling_utils",  # the loss registry pulls in scipy
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "transformers.tokenization_utils_tokenizers",
    "transformers.models.llama.modeling_llama",
    "transformers.models.qwen3.modeling_qwen3",
    "llama_cpp",  # optional: answers on CPU for GGUF models
)


def warm_up(modules: tuple[str, ...] = WARM_MODULES) -> float:
    """Import ``modules`` (missing optional ones are skipped), then freeze the heap. Returns seconds spent.

    ``gc.freeze`` moves everything alive now, the libraries included, out of the collector's view, so a
    full collection later (on any thread, holding the lock) walks only what the app itself creates.
    """
    started = time.perf_counter()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as error:
            log.info("not preloaded: %s (%s)", name, error)
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started
