"""The Athena DDL in sql/ against the schemas the jobs write and read.

Athena reads Parquet, JSON and Avro columns by name (Glue keeps names in lower case) and CSV
columns by position, so names are compared as sets there and in order for CSV; types are mapped
from Spark, Arrow, Avro and JSON to Athena's. Partition columns are not in the files: each one is
checked against a folder the job writes, through the table's ``storage.location.template`` and
partition projection, so Athena finds exactly the partitions the job publishes.

The DDL is read with ``table_definition.from_ddl``, the reading ``make ddl`` compares with the
Glue catalog; one test checks it agrees with sqlglot's Athena parser. Schemas come from code
where the code declares them; the Embrace outputs (their reject records and folders are built
inside functions) come from the files one tiny run of the real job writes.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from sqlglot import exp

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import ddl_files, render_statements
from job_helpers.control.pipeline import job_argv, load_script
from job_helpers.control.table_definition import TableDefinition, from_ddl
from job_helpers.embrace.archives import HEADERS as EMBRACE_HEADERS
from job_helpers.embrace.sample_data import METADATA_HEADER
from job_helpers.sensors import sample_data as sensors_sample
from job_helpers.sensors.hours import partition as sensors_partition
from job_helpers.sensors.read import hour_prefix
from job_helpers.sensors.transform import GRID_SCHEMA, READING_SCHEMA
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.sample_data import RAW_SCHEMA as SITEWISE_RAW_SCHEMA
from job_helpers.stedi import schemas as stedi
from job_helpers.stedi.pseudonym import pseudonymise
from job_helpers.stedi.transform import (
    accelerometer_trusted,
    customer_curated,
    customer_trusted,
    machine_learning_curated,
    step_trainer_trusted,
)
from job_helpers.storage import Storage, local_path

REPO = Path(__file__).resolve().parents[2]
SQL = REPO / "sql"
SHARED_SENSORS = REPO.parent / "shared" / "data" / "sensors"
Columns = tuple[tuple[str, str], ...]

DAY = date(2024, 3, 1)
HOUR = datetime(2024, 3, 1, 7, tzinfo=UTC)
EXPORT = "Sensors_U02_ALLSITES_20240301_20240331"


# --- the DDL ----------------------------------------------------------------------------------


def definitions(lake: Path, *overrides: str) -> dict[str, TableDefinition]:
    """Every DDL file's table as rendered for a local lake under ``lake``, by file."""
    settings = load_settings(REPO / "config.yml", "local", overrides, environ={"LAKE_ROOT": str(lake)})
    return {statement.source: from_ddl(statement.sql) for statement in render_statements(SQL, settings)}


def relative(url: str, location: str) -> str:
    assert url.startswith(location), f"{url} is not under the table's location {location}"
    return url[len(location) :]


# --- types: what Athena calls the types the jobs write -----------------------------------------


def spark_columns(schema: StructType, leave_out: Sequence[str] = ()) -> Columns:
    """Spark's simple type names are Hive's (bigint, int, double, timestamp, date, array<…>, struct<…>)."""
    return tuple((f.name.lower(), f.dataType.simpleString().lower()) for f in schema.fields if f.name not in leave_out)


def arrow_type(kind: pa.DataType) -> str:
    if pa.types.is_dictionary(kind):
        return arrow_type(kind.value_type)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"array<{arrow_type(kind.value_type)}>"
    if pa.types.is_struct(kind):
        return "struct<" + ",".join(f"{field.name.lower()}:{arrow_type(field.type)}" for field in kind) + ">"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.binary(): "binary",
    }
    if kind not in simple:
        raise AssertionError(f"Arrow type {kind} has no Athena type here; add it to arrow_type")
    return simple[kind]


def arrow_columns(schema: pa.Schema) -> Columns:
    return tuple((field.name.lower(), arrow_type(field.type)) for field in schema)


AVRO_PRIMITIVES = {
    "string": "string",
    "long": "bigint",
    "int": "int",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "bytes": "binary",
}


def avro_type(kind: Any) -> str:
    if isinstance(kind, list):
        values = [k for k in kind if k != "null"]
        if len(values) != 1:
            raise AssertionError(f"Avro union {kind} has no single Athena type")
        return avro_type(values[0])
    if isinstance(kind, dict):
        if kind["type"] == "array":
            return f"array<{avro_type(kind['items'])}>"
        if kind["type"] == "map":
            return f"map<string,{avro_type(kind['values'])}>"
        if kind["type"] == "record":
            return "struct<" + ",".join(f"{f['name'].lower()}:{avro_type(f['type'])}" for f in kind["fields"]) + ">"
        return avro_type(kind["type"])
    return AVRO_PRIMITIVES[kind]


def avro_columns(schema: dict) -> Columns:
    return tuple((field["name"].lower(), avro_type(field["type"])) for field in schema["fields"])


INTEGERS = ("tinyint", "smallint", "int", "bigint")


def json_value_fits(kind: str, value: Any) -> bool:
    """Whether the openx JSON SerDe reads ``value`` into a column of type ``kind``."""
    if value is None or (kind == "string" and isinstance(value, str)):
        return True
    if kind in INTEGERS:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind == "boolean" and isinstance(value, bool)


def text_fits(kind: str, text: str) -> bool:
    """Whether a CSV cell or a partition folder's value reads as type ``kind`` (empty is null)."""
    if kind == "string" or text == "":
        return True
    try:
        if kind in INTEGERS:
            int(text)
        elif kind in ("double", "float"):
            float(text)
        elif kind == "date":
            date.fromisoformat(text)
        else:
            return False
    except ValueError:
        return False
    return True


# --- the comparisons ---------------------------------------------------------------------------


def column_problems(ddl: Columns, written: Columns, what: str) -> list[str]:
    """Differences of two column lists read by name: names missing on either side, types that differ."""
    mine, theirs = dict(ddl), dict(written)
    problems = []
    if len(mine) != len(ddl) or len(theirs) != len(written):
        problems.append(f"a column name repeats (lower-cased): DDL {[n for n, _ in ddl]}, {what} {[n for n, _ in written]}")
    if only := sorted(mine.keys() - theirs.keys()):
        problems.append(f"only in the DDL: {', '.join(only)}")
    if only := sorted(theirs.keys() - mine.keys()):
        problems.append(f"only in {what}: {', '.join(only)}")
    problems += [
        f"{name} is {mine[name]} in the DDL but {theirs[name]} in {what}"
        for name in sorted(mine.keys() & theirs.keys())
        if mine[name] != theirs[name]
    ]
    return problems


def assert_same_columns(source: str, definition: TableDefinition, written: Columns, what: str) -> None:
    problems = column_problems(definition.columns, written, what)
    assert not problems, f"{source}: columns differ from {what}: " + "; ".join(problems)


PROJECTION_DATE_FORMATS = {"yyyy-MM-dd": "%Y-%m-%d", "yyyy-MM": "%Y-%m"}


def partition_problems(definition: TableDefinition, folder: str) -> list[str]:
    """Why Athena would not find the partition ``folder`` (relative to the location), or nothing.

    The folder must match the table's ``storage.location.template`` (Hive's ``name=value/`` per key
    without one), name every partition key, and each value must fit its type and projection.
    """
    keys = dict(definition.partition_keys)
    props = definition.properties
    template = props.get("storage.location.template")
    layout = relative(template, definition.location) if template else "".join(f"{name}=${{{name}}}/" for name in keys)
    named = [name.lower() for name in re.findall(r"\$\{(\w+)\}", layout)]
    if sorted(named) != sorted(keys):
        return [f"the location template names {named} but the partition keys are {list(keys)}"]
    pattern = re.escape(layout)
    for name in named:
        pattern = pattern.replace(re.escape(f"${{{name}}}"), f"(?P<{name}>[^/]+)", 1)
    match = re.fullmatch(pattern, folder, re.IGNORECASE)
    if match is None:
        return [f"the job writes {folder!r}, which does not match the layout {layout!r} Athena looks in"]
    problems = []
    for name, value in match.groupdict().items():
        kind, projection = keys[name], props.get(f"projection.{name}.type")
        if not text_fits(kind, value):
            problems.append(f"partition {name}={value!r} is not a {kind}")
        if projection == "integer":
            digits = props.get(f"projection.{name}.digits")
            if not value.isdigit() or (digits and len(value) != int(digits)):
                problems.append(f"partition {name}={value!r} is not an integer of {digits or 'any number of'} digits")
        elif projection == "date":
            pattern_of = PROJECTION_DATE_FORMATS[props[f"projection.{name}.format"]]
            try:
                datetime.strptime(value, pattern_of)
            except ValueError:
                problems.append(f"partition {name}={value!r} is not a date as {props[f'projection.{name}.format']}")
        elif projection == "enum" and value not in props[f"projection.{name}.values"].split(","):
            problems.append(f"partition {name}={value!r} is not one of {props[f'projection.{name}.values']}")
    return problems


def assert_partitions(source: str, definition: TableDefinition, folders: Sequence[str]) -> None:
    assert folders, f"{source}: no folder of the job to check"
    for folder in folders:
        if not definition.partition_keys:
            assert folder == "", f"{source}: the table has no partitions but the job writes into {folder!r}"
            continue
        problems = partition_problems(definition, folder)
        assert not problems, f"{source}: " + "; ".join(problems)


def csv_problems(definition: TableDefinition, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """CSV columns are read by position: no more columns than the DDL, each cell of its column's type."""
    columns = definition.columns
    if len(header) > len(columns):
        return [f"the file has {len(header)} columns {list(header)}, the DDL {len(columns)}"]
    return [
        f"row {number}: {columns[index][0]} ({columns[index][1]}) gets {cell!r}"
        for number, row in enumerate(rows, start=2)
        for index, cell in enumerate(row)
        if index >= len(columns) or not text_fits(columns[index][1], cell)
    ]


# --- the DDL parse --------------------------------------------------------------------------------


def sqlglot_columns(sql: str) -> tuple[Columns, Columns]:
    statement = sqlglot.parse_one(sql, read="athena")
    partitioned = statement.find(exp.PartitionedByProperty)
    in_partitions = {id(c) for c in partitioned.find_all(exp.ColumnDef)} if partitioned else set()

    def columns(defs: Iterator[exp.ColumnDef]) -> Columns:
        return tuple((d.name.lower(), re.sub(r"\s+", "", d.args["kind"].sql("hive")).lower()) for d in defs)

    every = list(statement.find_all(exp.ColumnDef))
    return columns(d for d in every if id(d) not in in_partitions), columns(d for d in every if id(d) in in_partitions)


@pytest.mark.parametrize("pseudonymise_setting", ["true", "false"])
def test_from_ddl_reads_the_columns_sqlglot_reads(tmp_path, pseudonymise_setting):
    settings = load_settings(
        REPO / "config.yml", "local", [f"stedi.pseudonymise={pseudonymise_setting}"], environ={"LAKE_ROOT": str(tmp_path)}
    )
    for statement in render_statements(SQL, settings):
        definition = from_ddl(statement.sql)
        columns, partitions = sqlglot_columns(statement.sql)
        assert (definition.columns, definition.partition_keys) == (columns, partitions), statement.source


# --- tables the jobs write: STEDI -----------------------------------------------------------------

KEY = b"ddl-schema-test-key-0123456789abcdef"


def stedi_outputs(spark: Any, pseudonymised: bool) -> dict[str, StructType]:
    """The schema each STEDI job writes, from its transforms run on empty frames as the job scripts compose them."""

    def empty(schema: StructType) -> Any:
        return spark.createDataFrame([], schema)

    customers = customer_trusted(empty(stedi.CUSTOMER_LANDING))
    readings = accelerometer_trusted(empty(stedi.ACCELEROMETER_LANDING), customers)
    curated = customer_curated(customers, readings.select("user"))
    steps = step_trainer_trusted(empty(stedi.STEP_TRAINER_LANDING), curated)
    if pseudonymised:
        # pseudonymise collects its keys: on empty frames of the same schemas that is one trivial job each.
        curated = pseudonymise(spark, empty(curated.schema), "email", KEY)
        owner, accel = stedi.PSEUDONYM_COLUMN, pseudonymise(spark, empty(readings.schema), "user", KEY)
        owners = curated.select("serialNumber", owner)
    else:
        owner, accel = "user", readings
        owners = curated.select("serialNumber", F.col("email").alias(owner))
    return {
        "customer_trusted": customers.schema,
        "accelerometer_trusted": readings.schema,
        "customer_curated": curated.schema,
        "step_trainer_trusted": steps.schema,
        "machine_learning_curated": machine_learning_curated(steps, accel, owners, owner).schema,
    }


STEDI_WRITTEN = (
    "customer_trusted",
    "accelerometer_trusted",
    "customer_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
)
STEDI_PARTITIONED = {"accelerometer_trusted", "step_trainer_trusted", "machine_learning_curated"}


@pytest.fixture(scope="module", params=[True, False], ids=["pseudonymised", "not-pseudonymised"])
def stedi_written(request, spark, tmp_path_factory):
    pseudonymised = request.param
    lake = tmp_path_factory.mktemp("stedi-ddl")
    return (
        pseudonymised,
        definitions(lake, f"stedi.pseudonymise={str(pseudonymised).lower()}"),
        stedi_outputs(spark, pseudonymised),
    )


@pytest.mark.parametrize("table", STEDI_WRITTEN)
def test_stedi_table_ddl_matches_what_its_job_writes(stedi_written, table):
    _, tables, written = stedi_written
    source = f"sql/stedi/{table}.sql"
    definition = tables[source]
    partitioned = table in STEDI_PARTITIONED
    leave_out = [stedi.PARTITION_COLUMN] if partitioned else []
    assert_same_columns(source, definition, spark_columns(written[table], leave_out), f"what stedi_{table} writes")
    # Spark's partitionBy names the folder after the column and writes a date as ISO text.
    assert_partitions(source, definition, [f"{stedi.PARTITION_COLUMN}={DAY.isoformat()}/"] if partitioned else [""])


def test_stedi_declared_schemas_are_what_the_transforms_write(stedi_written):
    """The trusted and curated tables are read back with the schemas declared in schemas.py."""
    pseudonymised, _, written = stedi_written
    declared = {
        "customer_trusted": stedi.CUSTOMER_TRUSTED,
        "accelerometer_trusted": stedi.ACCELEROMETER_TRUSTED,
        "step_trainer_trusted": stedi.STEP_TRAINER_TRUSTED,
        "customer_curated": stedi.curated_customer_schema(pseudonymised),
        "machine_learning_curated": stedi.machine_learning_schema(pseudonymised),
    }
    for table, schema in declared.items():
        assert spark_columns(written[table]) == spark_columns(schema), table


# --- tables the jobs write: SiteWise and sensors (schemas declared in code) --------------------------


def test_sitewise_repartitioned_ddl_matches_the_avro_it_holds(tmp_path):
    """The job copies SiteWise's Avro blocks as they are, so the table holds the raw files' schema."""
    source = "sql/sitewise_repartitioned.sql"
    definition = definitions(tmp_path)[source]
    literal = json.loads(definition.serde_properties["avro.schema.literal"])
    assert_same_columns(source, definition, avro_columns(SITEWISE_RAW_SCHEMA), "SiteWise's raw Avro schema")
    # AvroSerDe reads through the literal: its fields, in order, are the table's columns.
    assert avro_columns(literal) == definition.columns, f"{source}: avro.schema.literal and the column list differ"
    assert avro_columns(literal) == avro_columns(SITEWISE_RAW_SCHEMA), (
        f"{source}: avro.schema.literal differs from the raw schema"
    )
    layout = Layout("file:///cold/", definition.location, "file:///index/")
    assert_partitions(source, definition, [relative(layout.output_day(DAY), definition.location)])


def test_sensor_timeseries_ddl_matches_what_the_export_writes(tmp_path):
    source = "sql/sensors/sensor_timeseries.sql"
    definition = definitions(tmp_path)[source]
    assert_same_columns(source, definition, arrow_columns(GRID_SCHEMA), "the export's grid (GRID_SCHEMA)")
    assert_partitions(source, definition, [sensors_partition(int(HOUR.timestamp()))])


# --- tables the jobs write: Embrace (from the files one tiny run writes) ------------------------------

EMBRACE_WRITTEN = (
    "embrace_clean",
    "embrace_devices",
    "embrace_duplicate_log",
    "embrace_rejects",
    "embrace_timestream_ready",
    "embrace_wear_time",
)


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    folder: str


@pytest.fixture(scope="module")
def embrace_run(spark, tmp_path_factory) -> dict[str, tuple[TableDefinition, list[WrittenFile]]]:
    """One archive through the real job: a metadata file, acc and eda with a non-numeric EDA line (a
    reject), and a temp member refused for its path; every table's definition and the files under it."""
    lake = tmp_path_factory.mktemp("embrace-ddl")
    settings = load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": str(lake)})
    landing = local_path(settings.datasets["embrace.landing"])
    landing.mkdir(parents=True)
    first = int(datetime.combine(DAY, datetime.min.time(), UTC).timestamp() * 1000)

    def stream(kind: str, *rows: str) -> str:
        return ",".join(EMBRACE_HEADERS[kind]) + "\n" + "".join(f"{first + 250 * n},{row}\n" for n, row in enumerate(rows))

    with zipfile.ZipFile(landing / f"{EXPORT}.zip", "w") as archive:
        archive.writestr(
            "U02/FC/096/DEV1/metadata.csv", f"{METADATA_HEADER}\n{DAY}T00:00:00Z,-240,1.3.5602,Mate,2.2.3,iOS,17.1,0.6.4724\n"
        )
        archive.writestr("U02/FC/096/DEV1/acc.csv", stream("acc", "0.5,0.1,0.2", "0.4,0.1,0.3"))
        archive.writestr("U02/FC/096/DEV1/eda.csv", stream("eda", "0.5", "abc", "0.7"))
        archive.writestr("U02/FC/../DEV1/temp.csv", stream("temp", "30.5"))
    job = settings.job("embrace_dedupe")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOB_HELPERS_RUNTIME", "local")
        load_script(REPO / job.script).main([*job_argv(job), "--from-date", f"{DAY}", "--to-date", "2024-03-31"])
    tables = definitions(lake)
    found = {}
    for table in EMBRACE_WRITTEN:
        definition = tables[f"sql/embrace/{table}.sql"]
        root = local_path(definition.location)
        files = [
            WrittenFile(path, "".join(f"{part}/" for part in path.parent.relative_to(root).parts))
            for path in sorted(root.rglob("*"))
            if path.is_file() and not any(part.startswith(("_", ".")) for part in path.relative_to(root).parts)
        ]
        found[table] = (definition, files)
    return found


def json_columns(files: Sequence[WrittenFile], definition: TableDefinition) -> tuple[Columns, list[str]]:
    """The keys of every JSON line (typed as the DDL where every value fits), and values that do not fit."""
    kinds = dict(definition.columns)
    keys: dict[str, str] = {}
    misfits = []
    for file in files:
        for number, line in enumerate(file.path.read_text(encoding="utf-8").splitlines(), start=1):
            for key, value in json.loads(line).items():
                kind = kinds.get(key.lower(), "?")
                keys[key.lower()] = kind
                if kind != "?" and not json_value_fits(kind, value):
                    misfits.append(f"{file.path.name}:{number}: {key} ({kind}) holds {value!r}")
    return tuple(keys.items()), misfits


@pytest.mark.parametrize("table", EMBRACE_WRITTEN)
def test_embrace_table_ddl_matches_the_files_the_job_writes(embrace_run, table):
    source = f"sql/embrace/{table}.sql"
    definition, files = embrace_run[table]
    assert files, f"{source}: the run wrote no file under {definition.location}"
    suffixes = {file.path.suffix for file in files}
    if suffixes == {".parquet"}:
        for file in files:
            assert_same_columns(source, definition, arrow_columns(pq.read_schema(file.path)), f"{file.folder}{file.path.name}")
    elif suffixes == {".json"}:
        written, misfits = json_columns(files, definition)
        assert_same_columns(source, definition, written, "the JSON records the job writes")
        assert not misfits, f"{source}: " + "; ".join(misfits)
    elif suffixes == {".csv"}:
        names = [name for name, _ in definition.columns]
        for file in files:
            header, *rows = list(csv.reader(io.StringIO(file.path.read_text(encoding="utf-8"))))
            # The stream's measures fill x, y, z in order (eda and temp in x, as the DDL says).
            assert header[:3] == names[:3], f"{source}: {file.path.name} starts {header[:3]}, the DDL {names[:3]}"
            if "/acc/" in f"/{file.folder}":
                assert header == names, f"{source}: the acc file's columns are {header}, the DDL's {names}"
            problems = csv_problems(definition, header, rows)
            assert not problems, f"{source}: {file.path.name}: " + "; ".join(problems)
    else:
        raise AssertionError(f"{source}: files of more than one kind or of an unknown kind: {sorted(suffixes)}")
    assert_partitions(source, definition, sorted({file.folder for file in files}))


def test_the_embrace_run_wrote_both_kinds_of_rejects(embrace_run):
    """The rejects table's check above saw a line reject and a refused member, the two writers of records."""
    _, files = embrace_run["embrace_rejects"]
    records = [json.loads(line) for file in files for line in file.path.read_text(encoding="utf-8").splitlines()]
    assert {record["line"] is None for record in records} == {True, False}


# --- tables the jobs only read ---------------------------------------------------------------------

STEDI_LANDING = {
    "sql/stedi/customer_landing.sql": stedi.CUSTOMER_LANDING,
    "sql/stedi/accelerometer_landing.sql": stedi.ACCELEROMETER_LANDING,
    "sql/stedi/step_trainer_landing.sql": stedi.STEP_TRAINER_LANDING,
}
# The trusted tables are read back by later jobs with these schemas (the partition column is a folder).
STEDI_READ_BACK = {
    "sql/stedi/customer_trusted.sql": stedi.CUSTOMER_TRUSTED,
    "sql/stedi/accelerometer_trusted.sql": stedi.ACCELEROMETER_TRUSTED,
    "sql/stedi/step_trainer_trusted.sql": stedi.STEP_TRAINER_TRUSTED,
}


@pytest.mark.parametrize("source", [*STEDI_LANDING, *STEDI_READ_BACK])
def test_stedi_ddl_matches_the_schema_jobs_read_with(tmp_path, source):
    definition = definitions(tmp_path)[source]
    schema = {**STEDI_LANDING, **STEDI_READ_BACK}[source]
    assert_same_columns(source, definition, spark_columns(schema, [stedi.PARTITION_COLUMN]), "the schema the jobs read with")


def test_sensor_raw_ddl_matches_the_readings_the_export_reads(tmp_path):
    source = "sql/sensors/sensor_raw.sql"
    definition = definitions(tmp_path)[source]
    assert_same_columns(source, definition, arrow_columns(READING_SCHEMA), "READING_SCHEMA")
    assert_partitions(source, definition, [relative(hour_prefix(definition.location, HOUR), definition.location)])


def reference_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The sensors' reference CSV files: the generated sample's, and the shared real ones."""
    settings = load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": str(tmp_path)})
    sensors_sample.write_reference_tables(Storage(), settings.datasets, sensors_sample.sensor_ids(3), random.Random(1))
    for table in ("sensor_mapping", "customer_data"):
        yield f"sql/sensors/{table}.sql", local_path(settings.datasets[f"sensors.{table}"]) / f"{table}.csv"
        if SHARED_SENSORS.is_dir():
            yield f"sql/sensors/{table}.sql", SHARED_SENSORS / f"{table}.csv"


def test_sensor_reference_ddl_matches_the_csv_headers(tmp_path):
    tables = definitions(tmp_path)
    checked = set()
    for source, path in reference_files(tmp_path):
        definition = tables[source]
        header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        names = [name for name, _ in definition.columns]
        assert [name.lower() for name in header] == names, f"{source}: {path} has columns {header}, the DDL {names}"
        problems = csv_problems(definition, header, rows)
        assert not problems, f"{source}: {path}: " + "; ".join(problems)
        checked.add(source)
    assert checked == {"sql/sensors/sensor_mapping.sql", "sql/sensors/customer_data.sql"}


def own_checks() -> set[str]:
    """DDL files a data set's own tests check (``make new-job`` writes such a test beside each job it makes)."""
    return {
        path
        for test in REPO.glob("tests/*/test_*.py")
        for path in re.findall(r'"(sql/[a-z0-9_/]+\.sql)"', test.read_text(encoding="utf-8"))
        if "def test_the_ddl_matches_the_schema" in test.read_text(encoding="utf-8")
    }


def test_every_ddl_file_is_checked():
    """A new table in sql/ needs its check here, or in its data set's own tests."""
    checked = {
        *own_checks(),
        "sql/sitewise_repartitioned.sql",
        "sql/sensors/sensor_timeseries.sql",
        "sql/sensors/sensor_raw.sql",
        "sql/sensors/sensor_mapping.sql",
        "sql/sensors/customer_data.sql",
        *(f"sql/stedi/{table}.sql" for table in STEDI_WRITTEN),
        *STEDI_LANDING,
        *(f"sql/embrace/{table}.sql" for table in EMBRACE_WRITTEN),
    }
    assert {path.relative_to(REPO).as_posix() for path in ddl_files(SQL)} == checked
