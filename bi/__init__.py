"""Apache Superset dashboards over the published customer-overview product (see bi/README.md)."""
