"""Conversation history: stored turns round-trip, search finds words anywhere, follow-ups carry context."""

from __future__ import annotations

from pathlib import Path

from memsa.app.gui.conversations import ConversationStore, contextual_question
from memsa.app.gui.records import CitationView, Turn

CITATION = CitationView(doc_id=4, path="/notes/chat.json", start=10, end=42, score=0.61,
                        snippet="the wifi password is red", anchor="msg 5f3a · Alice · 2024-03-02 14:05")


def test_turns_round_trip_with_citations_steps_and_status(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "history.sqlite")
    first = store.create("What is the wifi password at the lake cabin and how do I get there from the station?")
    store.add_turn(first, Turn("What is the wifi password?", "It is red [4].", [CITATION],
                               ["Round 1: looked at chat.json"], "done"))
    store.add_turn(first, Turn("And the door code?", "The door", [], [], "stopped"))
    store.close()

    reopened = ConversationStore(tmp_path / "history.sqlite")
    turns = reopened.turns(first)
    assert [turn.status for turn in turns] == ["done", "stopped"]
    assert turns[0].citations == [CITATION] and turns[0].citations[0].anchor.startswith("msg 5f3a")
    assert turns[0].steps == ["Round 1: looked at chat.json"]
    assert turns[0].turn_id is not None and turns[1].turn_id is not None and turns[0].turn_id < turns[1].turn_id
    [summary] = reopened.conversations()
    assert summary.turns == 2 and len(summary.title) <= 60 and summary.title.endswith("…")


def test_search_matches_every_word_in_titles_questions_or_answers(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "history.sqlite")
    cabin = store.create("wifi at the cabin")
    store.add_turn(cabin, Turn("wifi at the cabin", "The password is pinecone-harbor-42.", status="done"))
    dentist = store.create("dentist")
    store.add_turn(dentist, Turn("When is the dentist?", "Tuesday at 9:40 100%_sure", status="done"))

    assert [c.conversation_id for c in store.conversations()] == [dentist, cabin]  # newest first
    assert [c.conversation_id for c in store.conversations("PINECONE")] == [cabin]
    assert [c.conversation_id for c in store.conversations("tuesday dentist")] == [dentist]
    assert store.conversations("tuesday pinecone") == []
    assert [c.conversation_id for c in store.conversations("100%_")] == [dentist]  # LIKE wildcards are literal
    assert store.conversations("9%40") == []  # "%" matches only itself, not "any text"
    store.delete(cabin)
    assert store.turns(cabin) == [] and [c.conversation_id for c in store.conversations()] == [dentist]


def test_a_follow_up_carries_the_question_it_follows() -> None:
    earlier = [Turn("Where is the new bakery?", "On Mill Lane.", status="done")]
    assert contextual_question(earlier, "When does it open?") == "Where is the new bakery? When does it open?"
    assert contextual_question(earlier, "What is the wifi password?") == "What is the wifi password?"
    assert contextual_question([], "When does it open?") == "When does it open?"
    failed = [Turn("Where is the new bakery?", status="failed")]
    assert contextual_question(failed, "When does it open?") == "When does it open?"
