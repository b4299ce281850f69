"""Customer-overview data product: configuration, Spark/Iceberg runtime, entity schemas and CLI."""

__version__ = "0.1.0"
