"""Tokenisation that keeps each token's character offsets into the original string.

Offsets are Python ``str`` indices (code points), so ``text[token.start:token.end] == token.text`` always holds.
Label Studio's editor counts characters the same way for ``<Text>`` regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a word (letters/digits, joined by an inner apostrophe, hyphen or dot: "don't", "COVID-19", "3.5"), or any single
# other non-space character (punctuation, symbols, each emoji code point)
_TOKEN = re.compile(r"\w+(?:['’\-.]\w+)*|[^\w\s]")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order, with ``text[t.start:t.end] == t.text``."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def join_tokens(words: list[str]) -> tuple[str, list[Token]]:
    """A text made of ``words`` separated by single spaces, and the words as tokens of it (for BIO files)."""
    tokens: list[Token] = []
    position = 0
    for word in words:
        tokens.append(Token(word, position, position + len(word)))
        position += len(word) + 1
    return " ".join(words), tokens
