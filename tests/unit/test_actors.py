"""Actor names: one rule (NFKC, no control, invisible or mixed-script look-alike characters,
at most 128 characters), names compared with case folded, and the default actor."""

from __future__ import annotations

import getpass
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm.actors import (
    MAX_ACTOR_LENGTH,
    actor_name,
    default_actor,
    process_actor,
    same_actor,
)
from fsm.errors import InvalidInput
from fsm.ledger import GENESIS_HASH, seal

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"]
ascii_names = st.text(
    alphabet=st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@/"
    ),
    min_size=1,
    max_size=MAX_ACTOR_LENGTH,
)


@given(st.text(max_size=MAX_ACTOR_LENGTH + 20))
def test_a_name_is_refused_or_stored_in_a_stable_allowed_form(text: str) -> None:
    try:
        name = actor_name(text)
    except InvalidInput as refused:
        message = refused.message
    else:
        message = None
    if message is not None:
        assert "\n" not in message  # one line on stderr
        return
    assert actor_name(name) == name  # the stored form is a fixed point
    assert unicodedata.normalize("NFKC", name) == name
    assert 1 <= len(name) <= MAX_ACTOR_LENGTH
    assert name == name.strip()
    assert "  " not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name)


@given(ascii_names, st.sampled_from(INVISIBLE), st.data())
def test_an_invisible_character_anywhere_is_refused(
    name: str, invisible: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(name)))
    with pytest.raises(InvalidInput, match="not allowed"):
        actor_name(name[:at] + invisible + name[at:])


@given(ascii_names)
def test_names_compare_with_case_folded(name: str) -> None:
    assert actor_name(name) == name
    assert same_actor(name, name.upper())
    assert same_actor(name.lower(), name)


@pytest.mark.parametrize(
    ("given_name", "stored"),
    [("ｔｒａｄｅｒ-ａｎｎ", "trader-ann"), ("  Ann   Smith ", "Ann Smith"),
     ("Jos\u0065\u0301", "José"),
     ("worker:host-1.example/4242", "worker:host-1.example/4242"), ("Ζωή", "Ζωή"),
     ("x" * MAX_ACTOR_LENGTH, "x" * MAX_ACTOR_LENGTH)],
)  # fmt: skip
def test_allowed_names_are_stored_in_nfkc(given_name: str, stored: str) -> None:
    assert actor_name(given_name) == stored


@pytest.mark.parametrize(
    ("refused", "why"),
    [("trader-ann\u200b", "invisible format character U\\+200B"), ("ann\tb", "control"),
     ("tr\u0430der-ann", "mixes scripts"), ("x" * (MAX_ACTOR_LENGTH + 1), "129 characters"),
     ("\ufb03" * 43, "129 characters"),  # "ﬃ" is three letters once normalised
     ("", "empty"), ("   ", "empty"), ("bob!", "EXCLAMATION MARK"), ("ann,bob", "COMMA")],
)  # fmt: skip
def test_refused_names_say_why_in_one_line(refused: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        actor_name(refused)
    assert "\n" not in caught.value.message
    assert len(caught.value.message) < 400


def test_a_new_ledger_row_refuses_a_name_the_rule_refuses() -> None:
    row = {"run_id": "r", "seq": 1, "event": "created", "source": None, "target": "idle",
           "accepted": True, "correlation_id": "c", "causation_id": None,
           "occurred_at": datetime(2026, 11, 27, tzinfo=UTC)}  # fmt: skip
    assert seal(GENESIS_HASH, actor="ｂｏｂ", **row).actor == "bob"
    with pytest.raises(InvalidInput, match="U\\+200B"):
        seal(GENESIS_HASH, actor="bob\u200b", **row)


def test_the_default_actor_is_the_os_user_else_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert default_actor() == actor_name(getpass.getuser())

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert default_actor().startswith("process:")
    assert default_actor() == actor_name(default_actor())


def test_a_process_actor_fits_whatever_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 300)
    name = process_actor("worker")
    assert name.startswith("worker:hhh")
    assert len(name) <= MAX_ACTOR_LENGTH
    assert actor_name(name) == name
