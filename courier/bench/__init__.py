"""Benchmarks of the planning engine; ``courier.bench.vrplib`` runs it on literature instances."""
