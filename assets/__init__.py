"""Dagster assets, one module per stage: ingest, curate, quality, profile, govern, publish."""
