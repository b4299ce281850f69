"""Consumption marts: aggregates and per-customer features the dashboards read (rules as data)."""
