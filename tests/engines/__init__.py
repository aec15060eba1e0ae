"""Fixtures for running the pipeline on real engines: a throwaway PostgreSQL server, one local
Spark session, and the edge-case transactions both are checked on against the DuckDB path."""
