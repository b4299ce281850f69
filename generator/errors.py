"""Domain errors of the data generator.

One module holds them so that callers (the CLI, pipeline tests) can catch a
generator problem without knowing which module raised it.
"""


class GeneratorError(Exception):
    """Base class of every error the generator raises on purpose."""


class GeneratorConfigError(GeneratorError, ValueError):
    """A `GeneratorConfig` field is missing, of the wrong type or out of range."""


class OutputDirectoryNotEmptyError(GeneratorError):
    """The output directory already holds drops from an earlier run.

    Writing over them would mix two runs' batches (a stale `customers_00007.csv`
    from a longer run would survive), so the generator refuses instead.
    """


class OutputDirectoryUnusableError(GeneratorError):
    """The output directory cannot be created or written (a file in the way, permissions)."""
