"""The engine fuses the exact-words index into routing: a code the router cannot read still finds its note."""

from __future__ import annotations

import random
from pathlib import Path

from memsa.core.encoding import EncodingConfig
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.memory.records import SourceInfo
from memsa.core.routing import question_states, route
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router, random_text

QUESTION = "what is the padlock code QX4471 ?"


def test_an_exact_code_lifts_its_document_into_the_top(tiny_llama: TinyModel, data_dir: Path) -> None:
    install_router(tiny_llama, data_dir)
    settings = EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), encoding=EncodingConfig(chunk_tokens=8))
    rng = random.Random(11)
    texts = [random_text(rng, rng.randint(12, 40)) for _ in range(12)]
    planted = 7
    texts[planted] = f"{texts[planted]} the padlock code is QX4471 . {random_text(rng, 10)}"
    with MemoryEngine.open(settings) as engine:
        for number, text in enumerate(texts):
            engine.remember(SourceInfo(f"/notes/{number}.md", str(number), 1, len(text)),
                            [DocumentText(text, 0, len(text))])
        planted_id = engine.bank.document_ids(f"/notes/{planted}.md")[0]
        # The tiny tokenizer reads "padlock", "code" and "QX4471" as unknown words: the router alone misses it.
        states = question_states(engine.decoder, engine.loaded.tokenizer, QUESTION, engine.router.spec.layers)
        router_only = [doc.doc_id for doc in route(engine.router, states, engine.bank.router_keys, 12)]
        assert router_only.index(planted_id) >= 4
        ranked = engine.retrieve(QUESTION, top_k=4)
        # The random router ranks the note below most others; its exact words lift it into the top 4, by
        # its own routing score plus the exact-words bonus.
        assert planted_id in [doc.doc_id for doc in ranked]
        assert [doc.score for doc in ranked] == sorted((doc.score for doc in ranked), reverse=True)
        others = engine.retrieve("red green blue alpha", top_k=4)  # words every note may hold: the router leads
        assert len(others) == 4
        engine.forget(f"/notes/{planted}.md")
        assert planted_id not in [doc.doc_id for doc in engine.retrieve(QUESTION, top_k=4)]
