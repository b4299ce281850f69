"""Synthetic CSV drops for the customer-overview lakehouse (customers, products,
accounts, transactions, credit-card campaign events) with a monthly change feed,
duplicates, late arrivals and malformed rows, plus a manifest of what the
pipeline must end up with. Every customer has a latent cross-sell persona that
shapes their data; it is never written (`latent_personas` recomputes it).

Usage::

    from generator import GeneratorConfig, generate
    manifest = generate(GeneratorConfig(customers=100_000), Path("landing"))
"""

from generator.config import GeneratorConfig
from generator.manifest import GENERATOR_VERSION as __version__
from generator.run import generate, latent_personas

__all__ = ["GeneratorConfig", "__version__", "generate", "latent_personas"]
