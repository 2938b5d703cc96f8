"""Data quality of the labelled set: label-issue candidates (cleanlab on out-of-fold probabilities),
the value of each labelled item (KNN-Shapley, last-layer influence), redundancy, a per-item scorecard
with keep / review / prune, pruning the training set, and MLflow tracking of every retrain."""
