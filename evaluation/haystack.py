"""Haystacks: real background passages up to a token budget, with needles planted in some of them."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from memsa.core.errors import InvalidInput
from memsa.core.training_corpus import plant

from .benchmark import Benchmark, Document, Query
from .needles import NeedleCounts, NeedleSet, TemplateSet, make_needles
from .text_sources import EVAL_SOURCES, Split, background_passages

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class HaystackRecipe:
    """Everything a haystack depends on besides the machine's text and the tokenizer.

    Attributes:
        size_tokens: memory size to reach (background plus needles), in the model's tokens.
        seed: draws the background order, the needles and where they are planted.
        text_split: "eval" (always, for measurements) or "train" (to check a router on its own text).
        template_split: needle templates, "eval" or "dev".
        counts: probes per family.
        man_per_family: most manual pages of one command family in the background.
        templates: the needle templates (recorded in the recipe).
    """

    size_tokens: int
    seed: int = 0
    text_split: Split = "eval"
    template_split: str = "eval"
    counts: NeedleCounts = NeedleCounts()
    man_per_family: int = 40
    templates: TemplateSet = TemplateSet()

    def __post_init__(self) -> None:
        if self.size_tokens < 1000:
            raise InvalidInput("a haystack needs at least 1,000 tokens")


def build_haystack(recipe: HaystackRecipe, count_tokens: TokenCounter,
                   passages: Iterator[tuple[str, str]] | None = None) -> Benchmark:
    """Background passages until ``recipe.size_tokens`` is reached, needles planted, probes as queries.

    Needles of one ``apart`` group (look-alike keys, old and new value) go to different documents; when
    the haystack has fewer documents than needles, a document hosts several.

    Args:
        count_tokens: the model's token count of a text.
        passages: (title, text) background; default: :func:`background_passages` of the recipe's split.

    Raises:
        InvalidInput: the machine has too little text for the size asked for.
    """
    needles = make_needles(recipe.counts, recipe.seed, recipe.template_split, recipe.templates)
    budget = recipe.size_tokens - sum(count_tokens(needle.text) for needle in needles.needles)
    source = passages if passages is not None else background_passages(recipe.text_split, recipe.seed,
                                                                        recipe.man_per_family)
    titles, texts, total = [], [], 0
    for title, text in source:
        if total >= budget:
            break
        titles.append(title)
        texts.append(text)
        total += count_tokens(text)
    if total < budget:
        raise InvalidInput(
            f"this machine has only about {total:,} tokens of {recipe.text_split!r} text, fewer than the "
            f"{recipe.size_tokens:,} asked for (sources: {', '.join(EVAL_SOURCES)})"
        )
    hosts = assign_hosts(needles, len(texts), random.Random(f"hosts-{recipe.seed}-{recipe.size_tokens}"))
    planting = random.Random(f"plant-{recipe.seed}-{recipe.size_tokens}")
    for needle in needles.needles:
        texts[hosts[needle.needle_id]] = plant(needle.text, texts[hosts[needle.needle_id]], planting)
    queries = [
        Query(probe.qid, probe.family, probe.question, probe.answers,
              tuple(sorted({hosts[n] for n in probe.gold})), tuple(sorted({hosts[n] for n in probe.stale})))
        for probe in needles.probes
    ]
    if recipe.counts.multihop:
        texts, chains = plant_chains(texts, recipe.counts.multihop, recipe.seed)
        queries += chains
    documents = [Document(index, title, text) for index, (title, text) in enumerate(zip(titles, texts, strict=True))]
    size = sum(count_tokens(document.text) for document in documents)
    return Benchmark(f"haystack-{size_label(recipe.size_tokens)}", documents, queries, recipe=_describe(recipe),
                     size_tokens=size)


def size_label(tokens: int) -> str:
    """65,536 -> "64K", 1,048,576 -> "1M", 50,000 -> "50000"."""
    for unit, scale in (("M", 1 << 20), ("K", 1 << 10)):
        if tokens % scale == 0:
            return f"{tokens // scale}{unit}"
    return str(tokens)


def plant_chains(texts: list[str], count: int, seed: int) -> tuple[list[str], list[Query]]:
    """Plant ``count`` multi-hop chains (``memsa.evaluation.multihop``) and make one query per chain whose
    gold is every document of the chain.

    Raises:
        InvalidInput: too few documents for the chains' facts.
    """
    from .multihop import HaystackDocument, build_multihop_set

    try:
        built = build_multihop_set([HaystackDocument(str(i), text) for i, text in enumerate(texts)], count, seed)
    except ValueError as error:
        raise InvalidInput(f"cannot plant {count} multi-hop chains: {error}") from error
    queries = [
        Query(f"multihop-{index}", "multihop", chain.question, (chain.answer,),
              tuple(int(name) for name in chain.documents))
        for index, chain in enumerate(built.chains)
    ]
    return [document.text for document in built.documents], queries


def assign_hosts(needles: NeedleSet, n_documents: int, rng: random.Random) -> dict[str, int]:
    """needle id -> host document index; at most ceil(needles / documents) per document, groups apart.

    Raises:
        InvalidInput: a group has more needles than the haystack has documents.
    """
    if any(len(group) > n_documents for group in needles.apart):
        raise InvalidInput("the haystack is too small to keep look-alike needles in separate documents")
    capacity = math.ceil(len(needles.needles) / n_documents)
    load = [0] * n_documents
    order = list(range(n_documents))
    rng.shuffle(order)
    group_of = {needle: index for index, group in enumerate(needles.apart) for needle in group}
    hosts: dict[str, int] = {}
    taken: dict[int, set[int]] = {}
    cursor = 0
    for needle in needles.needles:
        group = group_of.get(needle.needle_id)
        for step in range(n_documents):
            document = order[(cursor + step) % n_documents]
            if load[document] < capacity and (group is None or document not in taken.setdefault(group, set())):
                break
        else:  # every document is full or holds a member of the group: relax the capacity
            document = next(d for d in order if group is None or d not in taken.get(group, set()))
        hosts[needle.needle_id] = document
        load[document] += 1
        if group is not None:
            taken.setdefault(group, set()).add(document)
        cursor = (cursor + 1) % n_documents
    return hosts


def _describe(recipe: HaystackRecipe) -> dict[str, object]:
    description = asdict(recipe)
    description["text_sources"] = list(EVAL_SOURCES) if recipe.text_split == "eval" else ["router training text"]
    return json.loads(json.dumps(description))  # plain JSON values, as a saved benchmark reads them back
