"""Domain errors of the product, in one place.

Every error a user can provoke (bad configuration, a malformed landing file, a broken rules or
policy file, an invalid manifest) is one of these, with a message that names the file, the row or
key, and the rule. A user should read ``InvalidPolicyError: policies/x.yaml: unknown operator
'hsah'``, never a bare ``KeyError``.
"""

from __future__ import annotations


class LakehouseError(Exception):
    """Base class of every error this product raises on purpose."""


class ConfigurationError(LakehouseError):
    """A profile, an environment variable or a resource setting is missing or invalid."""


class SchemaDefinitionError(LakehouseError):
    """An entity schema file (``customer_overview/schemas/*.yaml``) is invalid."""


class LandingFileError(LakehouseError):
    """A landing file cannot be ingested at all (it is reported, and nothing is committed)."""


class InvalidRulesError(LakehouseError):
    """A validation rules file (``quality/rules/*.yaml``) is invalid."""


class InvalidPolicyError(LakehouseError):
    """A masking policy file (``policies/*.yaml``) or a role-group declaration is invalid."""


class ManifestError(LakehouseError):
    """The data-product manifest (``dataproduct.yaml``) is invalid."""


class PublishError(LakehouseError):
    """Publishing the data product failed; the previously published version stays current."""


class MissingInputError(LakehouseError):
    """A required input of the data product has never landed: there is nothing to build from."""
