"""Benchmarks of the whole bot (transport, handlers, database), each beside a bare PTB bot.

``python -m bench`` runs every benchmark and prints a table; results go to ``bench/results/`` (git-ignored).
"""
