"""The landing sensor requests a run for new files, once, without starting Spark."""

from __future__ import annotations

from dagster import RunRequest, build_sensor_context

from assets.raw.ingestion import ingest_entity
from customer_overview.entities import load_entity
from customer_overview.resources import LakehouseResource
from pipelines.definitions import JOB_NAME
from pipelines.sensors import landing_sensor


def _evaluate(sensor, instance):
    result = sensor.evaluate_tick(build_sensor_context(instance=instance))
    return result.run_requests, result.skip_message


def test_sensor_fires_on_a_new_file_and_not_after_it_is_ingested(
    lake_spark, lakehouse, dagster_instance
):
    sensor = landing_sensor(JOB_NAME, LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir)))
    requests, skipped = _evaluate(sensor, dagster_instance)
    assert not requests and "no new landing files" in skipped

    folder = lakehouse.landing_dir / "products"
    folder.mkdir(parents=True)
    header = "," + ",".join(load_entity("products").column_names)
    (folder / "products_00001.csv").write_text(header + "\n")
    first, _ = _evaluate(sensor, dagster_instance)
    again, _ = _evaluate(sensor, dagster_instance)
    assert len(first) == 1 and isinstance(first[0], RunRequest)
    assert first[0].run_key == again[0].run_key  # same files, same run key: one run

    ingest_entity(lake_spark, lakehouse, load_entity("products"), "sensor-test")
    requests, skipped = _evaluate(sensor, dagster_instance)
    assert not requests and "no new landing files" in skipped
    (folder / "products_00002.csv").write_text(header + "\n")
    requests, _ = _evaluate(sensor, dagster_instance)
    assert len(requests) == 1 and requests[0].run_key != first[0].run_key
