"""Dagster definitions, resources, jobs, schedules and sensors of the customer-overview product."""
