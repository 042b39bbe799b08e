"""Retrieval quality and speed measured against real baselines: haystacks, needles, reports (`memsa eval`).

Command line::

    memsa eval --sizes 16K,64K [--squad DIR] [--locomo DIR] [--router FILE ...] [--answers N] [--output DIR]

writes ``report.json``, ``report.md`` and ``recall.png`` (recall@5 against haystack size) to ``--output``
(default ./memsa-eval). ``--device cuda`` runs the model and routing on a GPU (raise ``--batch-tokens``).
The machine's evaluation text holds about 4-5M tokens with the default ``--man-per-family 40``; raise it
for 10M+. To evaluate the identical sets elsewhere (a GPU machine without these manual pages), write them
with ``--save-benchmarks DIR`` and evaluate them there with ``--benchmark DIR/<name>.json.gz``.

What is measured, on identical documents and k (default 16): document recall@1/5/16 of every router
layer alone, of the router's combined ranking (``memsa.core.routing.route``, "memsa router"), of the
fused ranking (that one fused with the bank's exact-words index by ``memsa.core.lexical``, "memsa fused"),
of the product's ranking (the fused one with its first documents re-read by ``memsa.core.rerank``, "memsa"),
of BM25, of dense all-MiniLM-L6-v2 and of their reciprocal-rank fusion; per needle family; the router's
abstention precision/recall on absent facts; encoding and query times; with ``--answers N``, exact
match / F1 of answers from memsa's evidence, from the gold document and from no memory (control).

Data kept apart from router training (see ``text_sources`` and ``needles``): haystack background text is
manual pages and standard-library *function/class* docstrings; training reads ``pydoc_data.topics``,
/usr/share/doc and *module* docstrings (``memsa.core.training_corpus``), and must never read the former.
Needle templates have an "eval" split (measured) and a "dev" split (allowed for tuning and training).

Scoring a new router cheaply. Encoding is the cost (≈ 500 tokens/s on a 2-core CPU), so the model runs
over a text once: the *normed inputs h* of every candidate router layer (default: the routers' layers
plus 2, 4, …, three quarters of the stack) are cached on disk, chunk-mean pooled over ``pool_tokens``
(default 8) for documents and per token for questions, under the sha256 of each text, in a folder named
by the model fingerprint, the layers and the pooling (``encoding.StateSpec``). Router keys and queries
are affine in h, so any router over cached layers whose chunk size is a multiple of ``pool_tokens`` is
scored from the cache without running the model: pass ``--router new.safetensors`` (repeat the flag to
compare several routers in one report). Growing a haystack or adding questions encodes only new texts.
A router over an uncached layer needs ``--cache-layers`` and one re-encoding. From Python::

    from memsa.evaluation.haystack import HaystackRecipe, build_haystack
    from memsa.evaluation.runner import EvalSettings, NamedRouter, evaluate

    benchmark = build_haystack(HaystackRecipe(65536, seed=0), count_tokens)   # or datasets.load_squad(...)
    result = evaluate(benchmark, loaded_model, [NamedRouter("new", router)], EvalSettings(cache_dir=...))
    result.retrieval["new"]["reworded"].recall[5]

``python -m memsa.evaluation.fusion_tuning`` chooses the exact-words fusion weight on sets kept apart
from the reported ones (SQuAD's first half of articles, haystacks with the "dev" needle templates).

``router_system.run_router(router, cached_inputs, queries, top_k)`` scores one router from
``runner.encode_benchmark``'s cached inputs alone (no model, no baselines): the inner loop of an ablation.
"""
