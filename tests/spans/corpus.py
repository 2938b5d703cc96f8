"""A small tagged corpus made by the tests: people and cities in a few sentence frames."""

from __future__ import annotations

import numpy as np

PEOPLE = ["John Smith", "Mary", "Ana Lopez", "Chen Wei", "Olga", "Peter Brown", "Fatima Khan", "Luis"]
CITIES = ["Paris", "New York", "Berlin", "Rome", "Sao Paulo", "Tokyo", "Lagos", "Oslo"]
FRAMES = [
    ("{p} lives in {c} .", True),
    ("Yesterday {p} flew to {c} with friends .", True),
    ("{p} said the weather in {c} was fine .", True),
    ("the meeting was moved to next week .", False),
    ("we ordered two coffees and a cake .", False),
    ("{p} called again .", True),
]


def _tag(words: list[str], label: str) -> list[str]:
    return [("B-" if i == 0 else "I-") + label for i in range(len(words))]


def make_corpus(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for _ in range(n):
        frame, _has = FRAMES[int(rng.integers(len(FRAMES)))]
        person = PEOPLE[int(rng.integers(len(PEOPLE)))].split()
        city = CITIES[int(rng.integers(len(CITIES)))].split()
        words: list[str] = []
        labels: list[str] = []
        for piece in frame.split():
            if piece == "{p}":
                words += person
                labels += _tag(person, "PER")
            elif piece == "{c}":
                words += city
                labels += _tag(city, "LOC")
            else:
                words.append(piece)
                labels.append("O")
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def to_bio(sentences: list[list[str]], tags: list[list[str]], separator: str = "\t") -> str:
    blocks = ["\n".join(f"{w}{separator}{t}" for w, t in zip(s, g, strict=True)) for s, g in zip(sentences, tags,
                                                                                                 strict=True)]
    return "\n\n".join(blocks) + "\n"
