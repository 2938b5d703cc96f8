"""The service layer: the active-learning loop and everything that drives it (inbox, worker, /predict).

Layers, lowest first: foundations (settings, registry, labelconfig, inputs, metrics) → storage → labelstudio,
learners, strategies, balancing → service → api, commands, cli."""
