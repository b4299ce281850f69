"""Entry point of the generator: `generate(config, out_dir)`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from generator.accounts import ACCOUNT_COLUMNS
from generator.badrows import BAD_ROW_KINDS, BadRowInjector
from generator.campaigns import CAMPAIGN_COLUMNS
from generator.changefeed import ChunkSimulation, PieceCounts
from generator.config import GeneratorConfig
from generator.customers import CUSTOMER_COLUMNS
from generator.encoding import join_fields
from generator.errors import (
    GeneratorConfigError,
    OutputDirectoryNotEmptyError,
    OutputDirectoryUnusableError,
)
from generator.manifest import MANIFEST_FILE_NAME, EntityTally, build_manifest, write_manifest
from generator.personas import PERSONA_NAMES
from generator.plan import (
    ACCOUNTS,
    CAMPAIGNS,
    CUSTOMERS,
    ENTITIES,
    PRODUCTS,
    TRANSACTIONS,
    RunPlan,
)
from generator.pools import build_text_pools
from generator.products import CATALOGUE, PRODUCT_COLUMNS, render_products
from generator.reference import CUSTOMER_ID_BASE
from generator.transactions import TRANSACTION_COLUMNS, build_merchant_pool
from generator.writer import DropWriter

COLUMNS: dict[str, tuple[str, ...]] = {
    CUSTOMERS: CUSTOMER_COLUMNS,
    PRODUCTS: PRODUCT_COLUMNS,
    ACCOUNTS: ACCOUNT_COLUMNS,
    TRANSACTIONS: TRANSACTION_COLUMNS,
    CAMPAIGNS: CAMPAIGN_COLUMNS,
}

Progress = Callable[[str], None]


def generate(
    config: GeneratorConfig, out_dir: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the CSV drops and manifest of one run.

    Args:
        config: Run parameters.
        out_dir: Output folder; created if missing, must not hold an earlier run.
        progress: Called with a short status line after each step.

    Returns:
        The manifest, also written to `<out_dir>/manifest.json`.

    Raises:
        GeneratorConfigError: If `config` is not a GeneratorConfig.
        OutputDirectoryNotEmptyError: If `out_dir` holds drops or a manifest.
    """
    if not isinstance(config, GeneratorConfig):
        raise GeneratorConfigError(f"config must be a GeneratorConfig, got {type(config).__name__}")
    out_dir = Path(out_dir)
    _require_fresh_output(out_dir)
    report = progress or (lambda _message: None)
    plan = RunPlan(config)

    report("building text pools")
    pools = build_text_pools(config.seed)
    merchants = build_merchant_pool(pools)

    writer = DropWriter(out_dir)
    _create_files(writer, plan)
    tallies = {entity: EntityTally() for entity in ENTITIES}
    injectors = {
        entity: BadRowInjector(entity, config.seed, config.bad_row_rate) for entity in BAD_ROW_KINDS
    }

    products = render_products()
    writer.append(PRODUCTS, plan.products_batch, join_fields(list(products.values())))
    tallies[PRODUCTS].add(PieceCounts(initial_rows=len(CATALOGUE)))

    chunks = plan.chunks()
    for chunk in chunks:
        for piece in ChunkSimulation(plan, chunk, pools, merchants).pieces():
            injector = injectors.get(piece.entity)
            lines = injector.inject(piece) if injector else piece.lines
            writer.append(piece.entity, piece.batch, lines)
            tallies[piece.entity].add(piece.counts, piece.funnel)
        report(
            f"chunk {chunk.index + 1}/{len(chunks)}: customers up to "
            f"{chunk.last_ordinal:,} of {config.total_customers:,}"
        )

    for entity, injector in injectors.items():
        tallies[entity].bad_rows = dict(injector.counts)
    manifest = build_manifest(config, writer.files, tallies)
    write_manifest(manifest, out_dir)
    report(f"wrote {len(writer.files)} files and {MANIFEST_FILE_NAME} to {out_dir}")
    return manifest


def latent_personas(config: GeneratorConfig) -> dict[str, np.ndarray]:
    """The latent persona of every customer of a run, as `generate(config, ...)` assigns them.

    Personas are never written to the drops; this recomputes them (customers
    and first accounts of every chunk, nothing rendered or written) so tests
    can check that the pipeline's rules recover them.

    Returns:
        {"cust_id": int64 array, "persona": array of archetype names}, by cust_id.
    """
    if not isinstance(config, GeneratorConfig):
        raise GeneratorConfigError(f"config must be a GeneratorConfig, got {type(config).__name__}")
    plan = RunPlan(config)
    pools = build_text_pools(config.seed)
    merchants = build_merchant_pool(pools)
    ids, codes = [], []
    for chunk in plan.chunks():
        simulation = ChunkSimulation(plan, chunk, pools, merchants)
        ids.append(CUSTOMER_ID_BASE + chunk.ordinals)
        codes.append(simulation.personas)
    return {
        "cust_id": np.concatenate(ids),
        "persona": np.array(PERSONA_NAMES)[np.concatenate(codes)],
    }


def _require_fresh_output(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputDirectoryNotEmptyError(f"{out_dir} exists and is not a directory")
    earlier = [
        path
        for path in (*(out_dir / entity for entity in ENTITIES), out_dir / MANIFEST_FILE_NAME)
        if path.exists()
    ]
    if earlier:
        names = ", ".join(str(path) for path in earlier)
        raise OutputDirectoryNotEmptyError(
            f"{out_dir} already holds generator output ({names}); choose an empty directory"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputDirectoryUnusableError(f"{out_dir}: cannot create: {error.strerror}") from None


def _create_files(writer: DropWriter, plan: RunPlan) -> None:
    """Create every file with its header, in arrival order, so even empty ones exist."""
    for batch in range(1, plan.config.files + 1):
        writer.create(CUSTOMERS, batch, 0, CUSTOMER_COLUMNS)
    writer.create(PRODUCTS, plan.products_batch, 0, PRODUCT_COLUMNS)
    writer.create(ACCOUNTS, plan.initial_batch, 0, ACCOUNT_COLUMNS)
    writer.create(TRANSACTIONS, plan.initial_batch, 0, TRANSACTION_COLUMNS)
    for month in range(1, plan.config.months + 1):
        for entity in (CUSTOMERS, ACCOUNTS, TRANSACTIONS, CAMPAIGNS):
            writer.create(entity, plan.month_batch(month), month, COLUMNS[entity])
