"""The fuzz test: random updates from many people against the real Application (see fuzzer.py)."""
