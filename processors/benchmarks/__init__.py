"""Benchmarks behind `shopstream bench ...`: figures are ratios measured side by side in one run."""
