"""Benchmarks of clinic_pbx, run by `make bench` (see bench/__main__.py)."""
