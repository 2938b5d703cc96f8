"""Token label issues: cleanlab's token-classification module on out-of-fold token marginals."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cleanlab.token_classification.filter import find_label_issues
from cleanlab.token_classification.rank import get_label_quality_scores

from labelsieve.cleanlab_calls import CLEANLAB_LOCK
from labelsieve.spans.tokens import Token


@dataclass(frozen=True)
class SentenceIssues:
    sentence_quality: np.ndarray  # per sentence, cleanlab's min token label quality (lower = more likely wrong)
    flagged_tokens: list[tuple[int, int]]  # (sentence, token) pairs cleanlab flags, most likely wrong first
    suggested: list[list[str]]  # per sentence, the out-of-fold argmax tag of every token


def find_token_issues(tags: Sequence[list[str]], marginals: Sequence[np.ndarray],
                      classes: Sequence[str]) -> SentenceIssues:
    """``tags``: the annotated BIO tags; ``marginals``: out-of-fold (n_tokens, n_classes) rows, columns = classes."""
    index = {label: k for k, label in enumerate(classes)}
    missing = sorted({tag for sequence in tags for tag in sequence if tag not in index})
    if missing:
        raise ValueError(f"tags {missing} have no column in the marginals")
    labels = [[index[tag] for tag in sequence] for sequence in tags]
    probs = []
    for rows in marginals:
        p = np.clip(np.asarray(rows, dtype=np.float64), 1e-12, None)
        probs.append(p / p.sum(axis=1, keepdims=True))
    quality, _ = get_label_quality_scores(labels, probs)
    with CLEANLAB_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny classes; flags stay valid
        # n_jobs=1: never fork this multi-threaded process (see labelsieve.cleanlab_calls)
        flagged = find_label_issues(labels, probs, n_jobs=1)
    suggested = [[classes[k] for k in np.argmax(p, axis=1)] for p in probs]
    return SentenceIssues(np.asarray(quality, dtype=np.float64), [(int(i), int(j)) for i, j in flagged], suggested)


def token_reasons(found: SentenceIssues, tags: Sequence[list[str]], texts: Sequence[str],
                  tokens: Sequence[list[Token]]) -> list[str]:
    """Per sentence, the flagged token spans with their character offsets, annotated tags and the tags the
    out-of-fold model suggests; runs of consecutive flagged tokens read as one span (``"" `` when none)."""
    by_sentence: dict[int, list[int]] = {}
    for i, j in found.flagged_tokens:
        by_sentence.setdefault(i, []).append(j)
    reasons = []
    for i in range(len(tags)):
        runs: list[list[int]] = []
        for j in sorted(by_sentence.get(i, [])):
            if runs and runs[-1][-1] == j - 1:
                runs[-1].append(j)
            else:
                runs.append([j])
        parts = []
        for run in runs:
            start, end = tokens[i][run[0]].start, tokens[i][run[-1]].end
            given = " ".join(tags[i][j] for j in run)
            suggested = " ".join(found.suggested[i][j] for j in run)
            parts.append(f"{texts[i][start:end]!r} [{start}:{end}] tagged {given}, model suggests {suggested}")
        reasons.append("; ".join(parts))
    return reasons
