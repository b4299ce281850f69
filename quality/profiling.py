"""Data profiles of curated tables: a reproducible Spark sample profiled with ydata-profiling.

Profiling the whole table would mean collecting it into pandas on the driver, so a profile
describes a sample of at most ``sample_size`` rows, chosen by hashing the key columns with a
seed: the same snapshot and settings always give the same sample, whatever the partitioning.
Every report says it is a sample and of how many rows.

Personal data: the caller passes an already pseudonymised sample (names hashed, dates of birth
bucketed). On top of that the report is configured not to add exposure of its own:

- the "Sample" section (first/last rows of the frame) and the "Duplicate rows" section are
  switched off, in full mode too (minimal mode omits them anyway): both print whole rows, i.e.
  every column of one customer side by side, which is far easier to re-identify than
  per-column statistics;
- the JSON keeps only the most frequent values of each column (as many as the HTML shows).
  ydata writes every distinct value with its count, which for a unique column such as a hashed
  name is the whole column.

Per-column statistics still show the most frequent values, extreme values and the first five
values of text columns, all taken from the pseudonymised sample.

ydata-profiling sends usage analytics to ydata.ai when a report is built; this module turns that
off (``YDATA_PROFILING_NO_ANALYTICS``) before ydata-profiling is first used: a bank's pipeline
must not call out (and its hosts are often offline).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_overview.atomic_files import write_text_atomically
from quality.offline_assets import external_resources

log = logging.getLogger(__name__)

PROFILES_DIR = "profiles"
HTML_NAME = "profile.html"
JSON_NAME = "profile.json"
SUMMARY_NAME = "summary.md"
# What the report was made from and its figures: a later run on the same snapshot with the same
# settings and masking finds the report here instead of profiling again.
RECORD_NAME = "profile_record.json"

# Per-column listings of every distinct value in ydata's JSON, trimmed to the top values.
_VALUE_COUNT_KEYS = ("value_counts_without_nan", "word_counts")
# The same counts as value_counts_without_nan, ordered by value instead of frequency.
_DROPPED_JSON_KEYS = ("value_counts_index_sorted",)
_PATH_COMPONENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ProfileSettings:
    """How a table is sampled and profiled.

    Attributes:
        sample_size: Rows profiled at most.
        seed: Seed of the sample: the same seed on the same snapshot gives the same rows.
        row_filter: Optional Spark SQL condition selecting the rows to profile, e.g.
            ``"cust_segment = 'Semi-Urban' AND country = 'United States'"``.
        minimal: ydata-profiling's minimal mode (fast); ``False`` adds correlations,
            interactions and missing-value diagrams.
        key_columns: Columns whose distinct counts go in the summary.
        categorical_columns: Columns profiled as categories whatever their values look like:
            identifiers, hashed (pseudonymised) values, codes. ydata-profiling takes text for
            free text and draws word clouds and character statistics, of ids and sha256 digests
            too; as categories they get what is meaningful for them: distinct and missing
            counts, uniqueness, the most frequent values.
        exclude_columns: Columns left out of the profile (e.g. the pipeline's lineage columns);
            the report names them.
    """

    sample_size: int = 50_000
    seed: int = 42
    row_filter: str | None = None
    minimal: bool = True
    key_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sample_size < 1:
            raise ValueError(f"sample_size must be at least 1, got {self.sample_size}")


def sample_for_profile(
    df: DataFrame, key: Sequence[str], settings: ProfileSettings
) -> tuple[pd.DataFrame, int, int]:
    """Filter ``df`` and take a reproducible sample of it as pandas.

    Rows are ordered by ``xxhash64(key..., seed)`` (then by the key itself, so that even a hash
    collision cannot make the order depend on partitioning) and the first ``sample_size`` are
    kept. Spark computes that as a distributed top-k: only the sample reaches the driver, without
    ``settings.exclude_columns``.

    Args:
        df: The table to sample.
        key: Columns identifying a row (e.g. ``["cust_id"]``).
        settings: Sample size, seed and row filter.

    Returns:
        The sample as pandas, the number of rows matching the filter, the number of sampled rows.

    Raises:
        ValueError: ``key`` is empty.
    """
    if not key:
        raise ValueError("sample_for_profile needs at least one key column")
    filtered = df.where(settings.row_filter) if settings.row_filter else df
    rows_total = filtered.count()
    key_columns = [F.col(name) for name in key]
    sample = (
        filtered.orderBy(F.xxhash64(*key_columns, F.lit(settings.seed)), *key_columns)
        .limit(settings.sample_size)
        .drop(*settings.exclude_columns)
        .toPandas()
    )
    return sample, rows_total, len(sample)


@dataclass
class ProfileResult:
    """Where a profile was written and the figures a Dagster asset reports as metadata.

    Attributes:
        table: The profiled table.
        snapshot_id: The table snapshot the sample was read from.
        row_filter: The Spark SQL condition rows had to match, if any.
        html_path: The ydata-profiling HTML report.
        json_path: The report's statistics as JSON.
        summary_path: The Markdown summary (``summary_markdown()``).
        rows_total: Rows matching the filter.
        rows_profiled: Rows in the sample.
        columns: Columns profiled.
        missing_percent: Percentage of missing values per column, in the sample.
        distinct_counts: Distinct values per key column, in the sample.
        alerts: ydata-profiling's alerts, e.g. ``"[country] has a constant value"``.
        seconds: Time taken to profile and write the reports (not counting the one-off import
            of ydata-profiling).
    """

    table: str
    snapshot_id: str
    row_filter: str | None
    html_path: Path
    json_path: Path
    summary_path: Path
    rows_total: int
    rows_profiled: int
    columns: int
    missing_percent: dict[str, float]
    distinct_counts: dict[str, int]
    alerts: list[str]
    seconds: float

    def summary_markdown(self) -> str:
        """A short Markdown summary: sample size, missing values, key distinct counts, alerts."""
        lines = [
            f"**Profile of `{self.table}`**, snapshot `{self.snapshot_id}`",
            "",
            f"Rows matching the filter: {self.rows_total:,}. Profiled: a reproducible "
            f"{_sample_phrase(self.rows_profiled, self.rows_total)}; the figures below "
            "describe that sample.",
            "",
            f"Filter: {_filter_phrase(self.row_filter, markdown=True)}",
            "",
            "| column | missing % | distinct (key columns) |",
            "| --- | ---: | ---: |",
        ]
        for column, missing in self.missing_percent.items():
            distinct = self.distinct_counts.get(column)
            distinct_text = f"{distinct:,}" if distinct is not None else ""
            lines.append(f"| {_markdown_cell(column)} | {missing:.2f} | {distinct_text} |")
        lines += ["", f"**Alerts** ({len(self.alerts)})", ""]
        lines += [f"- {_markdown_cell(alert)}" for alert in self.alerts] or ["- none"]
        return "\n".join(lines) + "\n"


def profile_table(
    sample: pd.DataFrame,
    *,
    table: str,
    snapshot_id: str,
    reports_dir: Path,
    rows_total: int,
    settings: ProfileSettings,
    masking: dict[str, str] | None = None,
) -> ProfileResult:
    """Profile ``sample`` and write ``reports_dir/profiles/<table>/<snapshot_id>/``.

    Writes ``profile.html`` (self-contained: ydata inlines its CSS and JavaScript, so the page
    loads nothing from outside the machine), ``profile.json`` and ``summary.md``. The report's
    title and description name the table, the snapshot, the filter, the columns left out and
    say "sample of N of M rows".

    Args:
        sample: The (pseudonymised) rows to profile, e.g. from ``sample_for_profile``.
        table: Table name, used in the report and as a folder name.
        snapshot_id: Snapshot the sample was read from, used in the report and as a folder name.
        reports_dir: The lakehouse's reports folder.
        rows_total: Rows matching the filter, of which ``sample`` is a sample.
        settings: The settings the sample was taken with; ``minimal`` and ``key_columns`` apply
            here.
        masking: How columns were pseudonymised before sampling (column -> operator), recorded
            with the report so that :func:`earlier_profile` finds it only for the same masking.

    Returns:
        The paths written and the figures for Dagster metadata.

    Raises:
        ValueError: The sample is empty or larger than ``rows_total``, a key or categorical
            column is not in it, or ``table`` / ``snapshot_id`` cannot be used as a folder name.
    """
    sample = sample.drop(columns=[c for c in settings.exclude_columns if c in sample.columns])
    if sample.empty:
        raise ValueError(
            f"{table}: no rows to profile (filter: {_filter_phrase(settings.row_filter)})"
        )
    if rows_total < len(sample):
        raise ValueError(
            f"{table}: rows_total ({rows_total:,}) is smaller than the sample ({len(sample):,})"
        )
    missing_keys = [column for column in settings.key_columns if column not in sample.columns]
    if missing_keys:
        raise ValueError(f"{table}: key columns not in the sample: {', '.join(missing_keys)}")
    missing_categorical = [c for c in settings.categorical_columns if c not in sample.columns]
    if missing_categorical:
        raise ValueError(
            f"{table}: categorical columns not in the sample: {', '.join(missing_categorical)}"
        )
    out_dir = (
        reports_dir
        / PROFILES_DIR
        / _path_component(table, "table")
        / _path_component(str(snapshot_id), "snapshot_id")
    )
    out_dir.mkdir(parents=True, exist_ok=True)

    profile_report = _profile_report_class()
    started = time.perf_counter()
    sample_phrase = _sample_phrase(len(sample), rows_total)
    report = profile_report(
        sample,
        minimal=settings.minimal,
        title=f"{table} @ snapshot {snapshot_id}: {sample_phrase}",
        dataset={
            "description": (
                f"Table {table}, snapshot {snapshot_id}. "
                f"Filter: {_filter_phrase(settings.row_filter)}. "
                f"Reproducible {sample_phrase} (seed {settings.seed})." + _columns_phrase(settings)
            )
        },
        type_schema={column: "categorical" for column in settings.categorical_columns},
        # None switches a section off: see the module docstring for why these two.
        samples=None,
        duplicates=None,
        progress_bar=False,
    )
    description = report.get_description()
    html_path = out_dir / HTML_NAME
    report.to_file(html_path)
    outside = external_resources(html_path.read_text(encoding="utf-8"))
    if outside:  # a ydata-profiling release that stops inlining its assets
        log.warning("%s loads from outside the machine: %s", html_path, ", ".join(outside))
    json_path = out_dir / JSON_NAME
    json_path.write_text(
        _trimmed_report_json(report.to_json(), report.config.n_freq_table_max), encoding="utf-8"
    )

    result = ProfileResult(
        table=table,
        snapshot_id=str(snapshot_id),
        row_filter=settings.row_filter,
        html_path=html_path,
        json_path=json_path,
        summary_path=out_dir / SUMMARY_NAME,
        rows_total=rows_total,
        rows_profiled=len(sample),
        columns=len(sample.columns),
        missing_percent={
            str(column): round(float(share) * 100, 4)
            for column, share in sample.isna().mean().items()
        },
        distinct_counts={
            column: int(sample[column].nunique(dropna=True)) for column in settings.key_columns
        },
        alerts=[str(alert) for alert in description.alerts],
        seconds=round(time.perf_counter() - started, 3),
    )
    result.summary_path.write_text(result.summary_markdown(), encoding="utf-8")
    record = {"made_from": _made_from(settings, masking), "result": asdict(result)}
    write_text_atomically(out_dir / RECORD_NAME, json.dumps(record, default=str, indent=1))
    log.info(
        "Profiled %s (snapshot %s): %d rows x %d columns in %.1f s -> %s",
        table,
        snapshot_id,
        result.rows_profiled,
        result.columns,
        result.seconds,
        html_path,
    )
    return result


def earlier_profile(
    reports_dir: Path,
    table: str,
    snapshot_id: str,
    settings: ProfileSettings,
    masking: dict[str, str] | None = None,
) -> ProfileResult | None:
    """The report :func:`profile_table` wrote for this snapshot, settings and masking, if any.

    A snapshot never changes, so the same sample of it profiled the same way gives the same
    report: a run where the table did not change links the existing one.
    """
    out_dir = (
        reports_dir
        / PROFILES_DIR
        / _path_component(table, "table")
        / _path_component(str(snapshot_id), "snapshot_id")
    )
    try:
        record = json.loads((out_dir / RECORD_NAME).read_text(encoding="utf-8"))
        if record["made_from"] != json.loads(json.dumps(_made_from(settings, masking))):
            return None
        saved = record["result"]
        paths = {name: Path(saved[name]) for name in ("html_path", "json_path", "summary_path")}
        result = ProfileResult(**{**saved, **paths})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as problem:
        log.warning("%s: ignoring an unreadable profile record (%s)", out_dir, problem)
        return None
    return result if result.html_path.is_file() and result.json_path.is_file() else None


def _made_from(settings: ProfileSettings, masking: dict[str, str] | None) -> dict[str, Any]:
    return {
        "settings": asdict(settings),
        "masking": dict(sorted((masking or {}).items())),
        # Another ydata-profiling release may describe the same sample differently.
        "ydata_profiling": metadata.version("ydata-profiling"),
    }


@functools.cache
def _profile_report_class() -> type:
    """Import ydata-profiling (2-4 s, so only when a profile is made) with its fixes applied.

    ydata-profiling 4.18 imports ``pkg_resources`` (setuptools < 81 is pinned in pyproject.toml
    for it), and its per-column progress bar ignores ``progress_bar=False`` (upstream pull request
    #1755): the module's ``tqdm`` is replaced by one that is always disabled.
    """
    # Read by ydata-profiling each time a report is built; any non-empty value disables it.
    os.environ["YDATA_PROFILING_NO_ANALYTICS"] = "True"
    from tqdm import tqdm
    from ydata_profiling import ProfileReport
    from ydata_profiling.model.pandas import summary_pandas

    summary_pandas.tqdm = functools.partial(tqdm, disable=True)
    report_class: type = ProfileReport  # ydata-profiling ships no type information
    return report_class


def _trimmed_report_json(report_json: str, top_values: int) -> str:
    """ydata's JSON with each column's value listings cut to its ``top_values`` most frequent."""
    report: dict[str, Any] = json.loads(report_json)
    for statistics in report.get("variables", {}).values():
        for key in _DROPPED_JSON_KEYS:
            statistics.pop(key, None)
        for key in _VALUE_COUNT_KEYS:
            counts = statistics.get(key)
            if isinstance(counts, dict):
                top = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:top_values]
                statistics[key] = dict(top)
    return json.dumps(report, indent=2)


def _sample_phrase(rows_profiled: int, rows_total: int) -> str:
    return f"sample of {rows_profiled:,} of {rows_total:,} rows"


def _filter_phrase(row_filter: str | None, *, markdown: bool = False) -> str:
    if not row_filter:
        return "none (all rows)"
    # A backtick would end the Markdown code span early.
    return "`" + row_filter.replace("`", "'") + "`" if markdown else row_filter


def _columns_phrase(settings: ProfileSettings) -> str:
    phrase = ""
    if settings.categorical_columns:
        phrase += (
            " Profiled as categories (identifiers, hashed values, codes): "
            f"{', '.join(settings.categorical_columns)}."
        )
    if settings.exclude_columns:
        phrase += f" Left out: {', '.join(settings.exclude_columns)}."
    return phrase


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _path_component(name: str, what: str) -> str:
    """``name`` if it is safe as one folder name (no separators, no ``..``)."""
    if not _PATH_COMPONENT.match(name):
        raise ValueError(f"{what} {name!r} cannot be used as a folder name")
    return name
