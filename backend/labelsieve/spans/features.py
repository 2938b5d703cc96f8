"""Per-token CRF features: the word, its shape and affixes, and the same for two words on each side."""

from __future__ import annotations

import re

_SHAPE_RUNS = re.compile(r"(.)\1+")


def word_shape(word: str) -> str:
    """``Xxxx`` style shape with runs collapsed: "McDonald's" -> "XxXx'x", "2024-01" -> "d-d"."""
    shape = "".join("X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c for c in word)
    return _SHAPE_RUNS.sub(r"\1", shape)


def _word_features(word: str, prefix: str) -> dict[str, str | float]:
    lower = word.lower()
    return {
        f"{prefix}lower": lower,
        f"{prefix}shape": word_shape(word),
        f"{prefix}title": float(word.istitle()),
        f"{prefix}upper": float(word.isupper()),
    }


def sentence_features(words: list[str]) -> list[dict[str, str | float]]:
    """One feature dict per word (python-crfsuite turns ``name: str`` into the binary feature ``name:str``)."""
    features: list[dict[str, str | float]] = []
    for i, word in enumerate(words):
        lower = word.lower()
        item: dict[str, str | float] = {
            "bias": 1.0,
            "suffix3": lower[-3:],
            "suffix2": lower[-2:],
            "prefix3": lower[:3],
            "digit": float(word.isdigit()),
            "has_digit": float(any(c.isdigit() for c in word)),
            "punct": float(not any(c.isalnum() for c in word)),
            "length": str(min(len(word), 8)),
            **_word_features(word, ""),
        }
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < len(words):
                item.update(_word_features(words[j], f"{offset:+d}:"))
            else:
                item[f"{offset:+d}:edge"] = 1.0
        if i > 0:
            item["-1:lower|lower"] = f"{words[i - 1].lower()}|{lower}"
        features.append(item)
    return features
