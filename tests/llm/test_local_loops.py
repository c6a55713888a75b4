"""The embedded engine's loop guard: an answer that repeats itself word for word ends early.

llama.cpp's token loop is played by ``ByteLlama``, a stand-in with one token per byte whose
model writes a given text and then whatever it is told to repeat, for ever: the real model
falls into such loops only now and then (see the demo), and never on request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specloom.llm.local.engine import LocalEngine
from specloom.llm.local.request import IM_END, IM_START, TOOL_CALL_START

_EOS = 100_000
_CONTROL = {IM_START: 100_001, IM_END: 100_002, TOOL_CALL_START: 100_003}


class ByteLlama:
    """Tokens are bytes; ``generate`` writes ``opening``, then ``loop`` again and again (or
    ends after one copy of it when ``ends``)."""

    def __init__(self, opening: str, loop: str, *, ends: bool = False) -> None:
        self.opening, self.loop, self.ends = opening.encode(), loop.encode(), ends
        self.generated = 0

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(text)

    def detokenize(self, tokens: list[int]) -> bytes:
        return bytes(token for token in tokens if token < 256)

    def token_eos(self) -> int:
        return _EOS

    def generate(self, tokens: list[int], **_sampling: Any) -> Iterator[int]:
        for token in self.opening:
            self.generated += 1
            yield token
        while True:
            for token in self.loop:
                self.generated += 1
                yield token
            if self.ends:
                yield _EOS
                return


def engine_with(llama: ByteLlama) -> LocalEngine:
    engine = LocalEngine(Path("stand-in.gguf"), n_ctx=100_000)
    engine._llama = llama  # type: ignore[assignment]  # llama.cpp's place, for the test
    engine._control = dict(_CONTROL)
    engine._stop_ids = frozenset({_EOS, _CONTROL[IM_END]})
    return engine


ECHO = (
    "The code ran: under each failed assertion, the E lines compare the value the code "
    "returned with the value the test expected. Write the tests that failed again in "
    "tests/test_wordcount.py, starting like this:\n\n"
)
FILE = "tests/test_wordcount.py\n```python\ndef test_one():\n    assert 1 + 1 == 2\n```\n"


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_going_round_in_a_loop_ends_early_as_cut_off(stream: bool) -> None:
    llama = ByteLlama(FILE, ECHO)
    engine = engine_with(llama)
    payload = {"messages": [{"role": "user", "content": "Write the tests."}],
               "max_tokens": 4_096}  # fmt: skip

    if stream:
        chunks = list(engine.chat_stream(payload | {"stream": True}))
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])  # fmt: skip
        finish = next(c["choices"][0]["finish_reason"] for c in reversed(chunks)
                      if c["choices"] and c["choices"][0].get("finish_reason"))  # fmt: skip
    else:
        answer = engine.chat(payload)
        text = answer["choices"][0]["message"]["content"]
        finish = answer["choices"][0]["finish_reason"]

    assert finish == "length"
    assert text.startswith(FILE)  # what came before the loop is all there
    # Stopped within a few copies, not at the 4,096-token cap.
    assert text.count("The code ran:") >= 3 and len(text) < 2_500
    assert llama.generated < 2_500


def test_repeated_stretches_that_are_not_a_loop_are_answered_in_full() -> None:
    # A licence header at the top of each of two files, and a long line said twice: the
    # same 400 characters, but never three times.
    header = "# Licensed under the Apache License, Version 2.0. " * 9
    answer = "".join(f"src/m{n}.py\n```python\n{header}\nVALUE = {n}\n```\n" for n in (1, 2))
    llama = ByteLlama(answer, "", ends=True)
    engine = engine_with(llama)

    reply = engine.chat({"messages": [{"role": "user", "content": "Two modules."}],
                         "max_tokens": 4_096})  # fmt: skip

    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["choices"][0]["message"]["content"] == answer
