"""Stochastic batch acquisition for labelsieve (Kirsch et al., 2023)."""

from labelsieve_stochastic.strategies import PowerSampling, SoftmaxSampling, SoftrankSampling, StochasticSampling

__all__ = ["PowerSampling", "SoftmaxSampling", "SoftrankSampling", "StochasticSampling"]
__version__ = "0.1.0"
