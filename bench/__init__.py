"""Benchmarks of the running stack, each figure a ratio to a raw limit measured in the same run.

``make bench`` (``.venv/bin/python -m bench``) starts what it needs, measures, prints one table
and writes the figures under ``bench/results/``. See bench/README.md.
"""
