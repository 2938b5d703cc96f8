"""Pools that live outside Label Studio: Parquet files ranked block by block, locally or on a Ray cluster.

Layers: :mod:`.source` (files, units, blocks) → :mod:`.model` (a learner shipped to workers) →
:mod:`.topn` / :mod:`.shard` (per-block and per-shard work) → :mod:`.greedy` (global reductions) →
:mod:`.engine` / :mod:`.ray_engine` (where the work runs) → :mod:`.select` → :mod:`.rounds` (Label Studio).
"""
