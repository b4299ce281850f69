"""Data quality: validation rules, Great Expectations suites, profiling and the report index."""
