"""An MSA model's retrieval call read token by token over sparse generation, and the next round's prompt."""

from __future__ import annotations

from memsa.core.engine import MemoryEngine
from memsa.core.interleave.protocol import CallEnd, ProtocolTokens
from memsa.core.msa.prompt import EvidenceRound, QuestionPrompt, TokenRole, question_prompt
from memsa.core.msa.reference import generate_reference
from memsa.core.msa.retrieval import continue_answer, msa_protocol_tokens, read_retrieval_call
from memsa.core.msa.router import MsaRouter

QUESTION = "who is the manager of the lake office ?"
KNOWN = range(1, 7)


def _free_run(engine: MemoryEngine, n: int) -> list[int]:
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    return generator.generate(prompt, engine.bank, n).token_ids


def _protocol(open_id: int, digit_id: int, digits: str, close_id: int, delimiter: int, end: int) -> ProtocolTokens:
    return ProtocolTokens(frozenset({open_id}), frozenset({close_id}), frozenset(), {digit_id: digits}, delimiter, end)


def test_decoding_stops_on_the_token_that_ends_the_call(engine: MemoryEngine) -> None:
    # The random model writes some tokens t0 t1 t2 t3 ...; read them as "[", "3", "]", delimiter.
    written = _free_run(engine, 8)
    t0, t1, t2, t3 = written[:4]
    assert len({t0, t1, t2, t3}) == 4
    unused = next(token for token in range(100) if token not in written)
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    named = read_retrieval_call(generator, prompt, engine.bank, _protocol(t0, t1, "3", t2, t3, unused), KNOWN, 8)
    assert named.call.ended_by is CallEnd.DELIMITER and named.call.doc_ids == (3,)
    assert named.token_ids == written[:4]
    unknown = read_retrieval_call(generator, prompt, engine.bank, _protocol(t0, t1, "99", t2, t3, unused), KNOWN, 8)
    assert unknown.call.doc_ids == () and unknown.call.unknown_ids == (99,)


def test_after_end_of_retrieve_the_answer_continues_in_the_same_cache(engine: MemoryEngine) -> None:
    written = _free_run(engine, 7)
    spare = [token for token in range(100) if token not in written][:4]
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    protocol = _protocol(spare[0], spare[1], "1", spare[2], spare[3], end=written[0])
    call = read_retrieval_call(generator, prompt, engine.bank, protocol, KNOWN, 7)
    assert call.call.ended_by is CallEnd.END_OF_RETRIEVE and call.token_ids == written[:1]
    assert continue_answer(generator, call, 6) == written[1:]


def test_protocol_tokens_come_from_the_checkpoint_tokenizer(engine: MemoryEngine) -> None:
    tokenizer = engine.loaded.tokenizer
    tokens = msa_protocol_tokens(tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    assert tokens.delimiter == ids("<|object_ref_end|>") and tokens.end_of_retrieve == ids("<End-of-Retrieve>")
    assert ids("[") in tokens.open and ids("]") in tokens.close and tokens.digits[ids("7")] == "7"


def test_the_next_round_routes_with_the_question_and_the_latest_evidence(engine: MemoryEngine) -> None:
    tokenizer, generator = engine.loaded.tokenizer, engine.sparse_generator
    delimiter = msa_protocol_tokens(tokenizer).delimiter
    ids = tokenizer.convert_tokens_to_ids
    first = EvidenceRound(call_token_ids=(ids("["), ids("5"), ids("]"), delimiter),
                          documents=((5, "who is the manager of the lake office ?"),))
    second = EvidenceRound(call_token_ids=(ids("["), ids("3"), ids("]"), delimiter),
                           documents=((3, "the manager meeting is at the office on 7 ."),))
    prompt = question_prompt(tokenizer, generator.frame, "who is the manager ?", [first, second], delimiter)
    roles, routes = prompt.roles, prompt.routes
    evidence = [index for index, role in enumerate(roles) if role is TokenRole.EVIDENCE]
    last_call = max(index for index, role in enumerate(roles) if role is TokenRole.GENERATED)
    latest = [index for index in evidence if index > last_call]
    assert roles[:4] == (TokenRole.QUERY,) * 4 and all(routes[:4])
    assert roles.count(TokenRole.GENERATED) == 8
    assert not any(flag for flag, role in zip(routes, roles, strict=True)
                   if role in (TokenRole.GENERATED, TokenRole.TEMPLATE))
    assert [routes[index] for index in evidence] == [index in latest for index in evidence]
    assert prompt.token_ids[latest[0]:latest[0] + 4].tolist() == [ids("["), ids("3"), ids("]"), ids(".")]
    assert int(prompt.token_ids[-1]) == delimiter
    router = engine.router
    assert isinstance(router, MsaRouter)
    fast = generator.generate(prompt, engine.bank, 6)
    slow = generate_reference(engine.decoder, router, generator.frame, prompt, engine.bank, generator.top_k, 6)
    assert fast.token_ids == slow.token_ids
    # In the first router layer the question's states are the same either way, so routing with the
    # evidence too scores every document by a max over more tokens: never lower, here higher.
    question_only = QuestionPrompt(prompt.token_ids, roles, tuple(role is TokenRole.QUERY for role in roles))
    _, without = generator.prefill(question_only, engine.bank, 1)
    _, with_evidence = generator.prefill(prompt, engine.bank, 1)
    first = router.spec.layers[0]
    assert with_evidence.selections[first].scores[0] > without.selections[first].scores[0]
