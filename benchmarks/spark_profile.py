"""What a product run spent its time on: Spark's own event log, read per Dagster step.

The benchmark runs the product with Spark's event log on (``spark.eventLog.*``, through a copy of
the packaged profiles given as ``LAKEHOUSE_PROFILES_FILE``: the computation is the default
configuration's). Each root SQL execution in the log (one DataFrame action or SQL statement, a
MERGE with the jobs it runs) has a start and an end; it belongs to the Dagster step that was
running when it started (steps run one at a time in ``customer-overview run``). A step's time
outside every execution is the driver's: Python, PyIceberg metadata commits, Great Expectations
rendering, Dagster events.

The profile of a stage is then: seconds in Spark, seconds outside, the number of executions,
and the executions that cost most, grouped by what started them (the Python call site PySpark
records for a DataFrame action, or the root operator of a statement's physical plan).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from product_steps import StepResult

from customer_overview.config import PACKAGED_PROFILES_FILE

EVENT_LOG_DIR = "spark_events"
TOP_EXECUTIONS = 4
# Plan nodes as Spark prints them ("* Project (3)", "+- Exchange (5)"), in plan order.
_PLAN_OPERATOR = re.compile(r"^[\s*+\-:]*([A-Z][A-Za-z]+) \(\d+\)", re.MULTILINE)
# Nodes that wrap the one that says what the execution does.
_WRAPPERS = {"AdaptiveSparkPlan", "ColumnarToRow", "WholeStageCodegen", "CommandResult"}


def profiles_with_event_log(folder: Path) -> Path:
    """A copy of the packaged profiles whose ``local`` profile writes Spark's event log.

    Returns:
        The profiles file, for ``LAKEHOUSE_PROFILES_FILE``; the log goes to
        ``folder/spark_events``.
    """
    events = folder / EVENT_LOG_DIR
    events.mkdir(parents=True, exist_ok=True)
    profiles = yaml.safe_load(PACKAGED_PROFILES_FILE.read_text(encoding="utf-8"))
    spark = profiles["profiles"]["local"].setdefault("spark", {})
    spark["conf"] = {
        **spark.get("conf", {}),
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.resolve().as_uri(),
        "spark.eventLog.compress": "false",
    }
    path = folder / "profiles_with_event_log.yaml"
    path.write_text(yaml.safe_dump(profiles, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Execution:
    """One root SQL execution: what started it and when (epoch seconds)."""

    label: str
    started: float
    ended: float


@dataclass
class StageProfile:
    """Where one stage's seconds went."""

    stage: str
    seconds: float = 0.0
    spark_seconds: float = 0.0
    executions: int = 0
    by_label: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def outside_spark_seconds(self) -> float:
        return max(self.seconds - self.spark_seconds, 0.0)

    def top(self, count: int = TOP_EXECUTIONS) -> list[tuple[str, int, float]]:
        """(label, executions, seconds) of the costliest kinds of execution."""
        totals = [(label, len(times), sum(times)) for label, times in self.by_label.items()]
        return sorted(totals, key=lambda item: -item[2])[:count]

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "seconds": round(self.seconds, 3),
            "spark_seconds": round(self.spark_seconds, 3),
            "outside_spark_seconds": round(self.outside_spark_seconds, 3),
            "executions": self.executions,
            "top": [
                {"started_by": label, "executions": n, "seconds": round(seconds, 3)}
                for label, n, seconds in self.top()
            ],
        }


def newest_event_log(folder: Path) -> Path:
    """The event log the last run wrote under ``folder/spark_events``."""
    logs = [path for path in (folder / EVENT_LOG_DIR).iterdir() if path.is_file()]
    if not logs:
        raise FileNotFoundError(f"no Spark event log in {folder / EVENT_LOG_DIR}")
    return max(logs, key=lambda path: path.stat().st_mtime)


def root_executions(event_log: Path) -> list[Execution]:
    """Every root SQL execution of ``event_log`` (sub-executions are inside their root's time)."""
    starts: dict[int, tuple[str, float]] = {}
    executions = []
    with event_log.open(encoding="utf-8") as lines:
        for line in lines:
            if "SQLExecution" not in line:
                continue  # most events are tasks and stages: skip the JSON parse
            event = json.loads(line)
            kind = event.get("Event", "")
            if kind.endswith("SparkListenerSQLExecutionStart"):
                root = event.get("rootExecutionId", event["executionId"])
                if root == event["executionId"]:
                    starts[event["executionId"]] = (label_of(event), event["time"] / 1000)
            elif kind.endswith("SparkListenerSQLExecutionEnd"):
                started = starts.pop(event["executionId"], None)
                if started is not None:
                    executions.append(Execution(started[0], started[1], event["time"] / 1000))
    return executions


def label_of(event: dict[str, Any]) -> str:
    """What started an execution: the Python call site PySpark records for a DataFrame action,
    else (``spark.sql`` and writes go through py4j, whose call site is a Java frame) the root
    operator of the physical plan: ``ReplaceData`` (a MERGE or an overwrite), ``AppendData``...
    """
    description = " ".join(str(event.get("description") or "").split())
    site = re.search(r"(\w+) at (\S+?\.py):(\d+)", description)
    if site:
        action, path, line = site.groups()
        return f"{action} at {'/'.join(Path(path).parts[-2:])}:{line}"
    action = description.split(" at ", 1)[0] or "(no description)"
    operators = _PLAN_OPERATOR.findall(str(event.get("physicalPlanDescription") or ""))
    operator = next((name for name in operators if name not in _WRAPPERS), None)
    return f"{action}: {operator}" if operator else action


def stage_profiles(steps: list[StepResult], executions: list[Execution]) -> list[StageProfile]:
    """The executions of each step, summed per stage, in the order the stages first ran."""
    profiles: dict[str, StageProfile] = {}
    for step in steps:
        profile = profiles.setdefault(step.stage, StageProfile(step.stage))
        profile.seconds += step.seconds
        for execution in executions:
            if step.started <= execution.started < step.started + step.seconds:
                profile.executions += 1
                # An execution cannot outlast its step; clipping guards against clock rounding.
                seconds = min(execution.ended, step.started + step.seconds) - execution.started
                profile.spark_seconds += seconds
                profile.by_label[execution.label].append(seconds)
    return list(profiles.values())


def format_profiles(size: int, run: str, profiles: list[StageProfile]) -> str:
    lines = [
        f"profile, size {size:,}, {run} run: seconds in Spark SQL executions vs outside Spark "
        "(driver: Python, PyIceberg commits, GX rendering), and the costliest executions"
    ]
    for profile in profiles:
        spark, outside = profile.spark_seconds, profile.outside_spark_seconds
        lines.append(
            f"  {profile.stage:<8} {profile.seconds:>7.1f} s = Spark {spark:>6.1f} s in "
            f"{profile.executions:>4} executions + outside {outside:>6.1f} s"
        )
        for label, count, seconds in profile.top():
            lines.append(f"      {seconds:>6.1f} s  {count:>4}x  {label}")
    return "\n".join(lines)
