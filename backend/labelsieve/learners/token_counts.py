"""TF-IDF from n-gram counts kept between rounds: each text is tokenised once per analyzer and process.

Every retrain of the :class:`~labelsieve.learners.text.TextLearner` refits its vocabulary (labelled texts plus
a sample of the pool) and ranks the whole pool, and a pool's texts do not change between rounds; scikit-learn's
:class:`~sklearn.feature_extraction.text.TfidfVectorizer` tokenised every one of them again each round (at 100k
pool texts most of a round). :class:`TokenCounts` keeps each text's n-gram counts, as term ids of a process-wide
term table per analyzer, so a round tokenises only texts it has not seen, and builds from the counts:

* :meth:`TokenCounts.fit_transform` — the vocabulary, idf and TF-IDF matrix ``TfidfVectorizer(ngram_range=(1, n),
  sublinear_tf=..., max_features=...)`` would fit on the same texts (same terms kept, the most frequent ones when
  ``max_features`` cuts, ties broken by the same ``argsort`` over alphabetically sorted terms; same smoothed idf,
  ``log(tf) + 1``, l2 rows; ``tests/unit/test_token_counts.py`` checks the equality on real reviews);
* :meth:`TokenCounts.transform` — the TF-IDF rows of any texts for a fitted vocabulary and idf.

Memory is bounded: texts are kept least recently used out first beyond ``max_texts`` (default 400 000: at ~20
n-grams a short text, two int32 per n-gram plus ~200 bytes of array and key overhead, ~100 MB), and an analyzer's
term table (~100 bytes a term) is dropped with its texts once it holds more than ``max_terms`` terms (default
2 000 000, ~200 MB). A pool larger than ``max_texts`` is tokenised again each round, as before the cache.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize


@dataclass(frozen=True)
class Analyzer:
    """The tokenisation settings a cached count belongs to (those of ``TfidfVectorizer``'s word analyzer)."""

    ngram_max: int = 2

    def build(self) -> Callable[[str], list[str]]:
        return TfidfVectorizer(ngram_range=(1, self.ngram_max)).build_analyzer()


@dataclass
class _Terms:
    """One analyzer's term table and the counts of the texts tokenised with it."""

    ids: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    #: text → (2, k) int32: sorted term ids, their counts
    texts: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    generation: int = 0


@dataclass
class TfidfFit:
    vocabulary: dict[str, int]  # term → column (columns in alphabetical order, as TfidfVectorizer's)
    idf: np.ndarray  # (n_terms,) float64
    matrix: sp.csr_matrix  # the TF-IDF rows of the texts fitted on


class TokenCounts:
    def __init__(self, *, max_texts: int = 400_000, max_terms: int = 2_000_000) -> None:
        self.max_texts = max_texts
        self.max_terms = max_terms
        self._tables: dict[Analyzer, _Terms] = {}
        self._lock = threading.Lock()
        self.tokenised = 0  # texts tokenised since the start (what the cache saves is what this does not count)

    def __len__(self) -> int:
        return sum(len(t.texts) for t in self._tables.values())

    # ------------------------------------------------------------------ counts
    def _counts(self, analyzer: Analyzer, texts: Sequence[str]) -> tuple[_Terms, list[np.ndarray]]:
        """The table and each text's (2, k) counts, tokenising only texts the table does not hold."""
        with self._lock:
            table = self._tables.setdefault(analyzer, _Terms())
            missing = list(dict.fromkeys(t for t in texts if t not in table.texts))
        fresh = []
        if missing:
            analyze = analyzer.build()
            fresh = [Counter(analyze(text)) for text in missing]
        with self._lock:
            if len(table.ids) > self.max_terms:  # a new table, and no count of the old one stays
                table = self._tables[analyzer] = _Terms(generation=table.generation + 1)
                missing = list(dict.fromkeys(texts))
                fresh = [Counter(analyzer.build()(text)) for text in missing]
            self.tokenised += len(missing)
            for text, grams in zip(missing, fresh, strict=True):
                table.texts[text] = self._entry(table, grams)
            get, touch = table.texts.get, table.texts.move_to_end
            rows = [get(text) for text in texts]
            for i, entry in enumerate(rows):
                if entry is None:  # evicted by another thread between the two steps
                    rows[i] = table.texts[texts[i]] = self._entry(table, Counter(analyzer.build()(texts[i])))
            for text in texts:
                touch(text)
            while len(table.texts) > self.max_texts:
                table.texts.popitem(last=False)
        return table, rows

    @staticmethod
    def _entry(table: _Terms, grams: Counter[str]) -> np.ndarray:
        ids = table.ids
        out = np.empty((2, len(grams)), dtype=np.int32)
        for i, (gram, count) in enumerate(grams.items()):
            term = ids.get(gram)
            if term is None:
                term = ids[gram] = len(table.names)
                table.names.append(gram)
            out[0, i], out[1, i] = term, count
        return out[:, np.argsort(out[0], kind="stable")]

    @staticmethod
    def _flat(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Term ids, counts and row lengths of ``rows`` laid end to end."""
        lengths = np.fromiter((r.shape[1] for r in rows), dtype=np.int64, count=len(rows))
        flat = np.concatenate(rows, axis=1) if rows else np.zeros((2, 0), dtype=np.int32)
        return flat[0], flat[1], lengths

    # ---------------------------------------------------------------- matrices
    def fit_transform(self, analyzer: Analyzer, texts: Sequence[str], *, max_features: int | None,
                      sublinear_tf: bool = True) -> TfidfFit:
        """What ``TfidfVectorizer(ngram_range=(1, ngram_max), sublinear_tf=..., max_features=...)`` fits on
        ``texts``: its vocabulary, idf and ``fit_transform`` matrix (see the module docstring)."""
        table, rows = self._counts(analyzer, texts)
        ids, counts, lengths = self._flat(rows)
        seen, inverse = np.unique(ids, return_inverse=True)
        if seen.size == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        with self._lock:
            names = np.array([table.names[i] for i in seen.tolist()])
        order = np.argsort(names, kind="stable")  # the alphabetical order of sklearn's _sort_features
        tfs = np.bincount(inverse, weights=counts, minlength=seen.size)[order]  # float64, as X.sum(axis=0)
        keep = np.ones(seen.size, dtype=bool)
        if max_features is not None and seen.size > max_features:
            keep[:] = False
            keep[(-tfs).argsort()[:max_features]] = True  # sklearn's _limit_features, same call
        column_of_seen = np.full(seen.size, -1, dtype=np.int64)
        column_of_seen[order[keep]] = np.arange(int(keep.sum()))
        kept_names = names[order[keep]].tolist()
        columns = column_of_seen[inverse]
        matrix = self._matrix(columns, counts, lengths, len(kept_names))
        df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64) + 1.0  # smooth_idf
        idf = np.full_like(df, fill_value=matrix.shape[0] + 1, dtype=np.float64)
        idf /= df
        np.log(idf, out=idf)
        idf += 1.0
        return TfidfFit(vocabulary={term: i for i, term in enumerate(kept_names)}, idf=idf,
                      matrix=_tfidf(matrix, idf, sublinear_tf))

    def transform(self, analyzer: Analyzer, texts: Sequence[str], vocabulary: dict[str, int], idf: np.ndarray,
                  *, sublinear_tf: bool = True) -> sp.csr_matrix:
        """The TF-IDF rows of ``texts`` for a fitted ``vocabulary`` and ``idf`` (``TfidfVectorizer.transform``)."""
        table, rows = self._counts(analyzer, texts)
        ids, counts, lengths = self._flat(rows)
        with self._lock:
            known = table.ids
            column_of_id = np.full(len(table.names), -1, dtype=np.int64)
            pairs = [(known[t], c) for t, c in vocabulary.items() if t in known]
        if pairs:
            where = np.array(pairs, dtype=np.int64)
            column_of_id[where[:, 0]] = where[:, 1]
        return _tfidf(self._matrix(column_of_id[ids] if ids.size else ids.astype(np.int64), counts, lengths,
                                   len(vocabulary)), idf, sublinear_tf)

    @staticmethod
    def _matrix(columns: np.ndarray, counts: np.ndarray, lengths: np.ndarray, n_columns: int) -> sp.csr_matrix:
        """The counts matrix (float64, sorted indices) of rows whose entries ``columns`` (-1: not kept) hold."""
        rows = np.repeat(np.arange(lengths.size), lengths)
        kept = columns >= 0
        indptr = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[kept], minlength=lengths.size), out=indptr[1:])
        matrix = sp.csr_matrix((counts[kept].astype(np.float64), columns[kept], indptr),
                               shape=(lengths.size, n_columns))
        matrix.sort_indices()
        return matrix


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sp.csr_matrix:
    """TfidfTransformer.transform on a counts matrix: ``log(tf) + 1`` when sublinear, × idf, l2 rows."""
    if sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    counts.data *= idf[counts.indices]
    return normalize(counts, norm="l2", copy=False)


#: the process-wide cache every TF-IDF TextLearner reads through
TOKEN_COUNTS = TokenCounts()
