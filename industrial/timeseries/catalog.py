"""What the time-series database holds, discovered by introspection.

An equipment table is any table of the current schema with a ``timestamp``
column; its numeric columns are its metrics and their units come from the
column names (``power_consumption_kw`` is in kW). Types and display names
come from the ``equipment`` table when a row exists, otherwise from the table
name (``pump_007`` is a pump). Every identifier that reaches SQL is looked up
here first, so nothing a user typed is ever spliced into a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from rapidfuzz import process

from industrial.errors import UnknownEquipment, UnknownEquipmentType, UnknownMetric

_NUMERIC_TYPES = frozenset({"smallint", "integer", "bigint", "real", "double precision", "numeric"})
_SHARED_TABLES = frozenset({"equipment", "alerts"})

# Longest suffix first, so "_kwh" wins over "_h" style shorter matches.
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_kwh", "kWh"),
    ("_kva", "kVA"),
    ("_kw", "kW"),
    ("_m3h", "m³/h"),
    ("_kg_h", "kg/h"),
    ("_mm_s", "mm/s"),
    ("_percent", "%"),
    ("_bar", "bar"),
    ("_rpm", "rpm"),
    ("_ppm", "ppm"),
    ("_pa", "Pa"),
    ("_hz", "Hz"),
    ("_hours", "h"),
    ("_c", "°C"),
    ("_v", "V"),
    ("_a", "A"),
)


def unit_for(column: str) -> str:
    """The unit encoded in a column name, '' for dimensionless ones (cop, power_factor, running_status)."""
    for suffix, unit in _UNIT_SUFFIXES:
        if column.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class MetricColumn:
    name: str
    unit: str
    data_type: str

    @property
    def label(self) -> str:
        """Human name without the unit suffix: ``chw_supply_temp_c`` -> ``chw supply temp``."""
        base = self.name
        for suffix, unit in _UNIT_SUFFIXES:
            if unit == self.unit and base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return base.replace("_", " ")


@dataclass(frozen=True)
class EquipmentTable:
    equipment_id: str
    equipment_type: str
    display_name: str
    metrics: dict[str, MetricColumn]
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def has_running_status(self) -> bool:
        return "running_status" in self.metrics


@dataclass(frozen=True)
class Catalog:
    equipment: dict[str, EquipmentTable]

    def types(self) -> dict[str, list[str]]:
        by_type: dict[str, list[str]] = {}
        for eq in self.equipment.values():
            by_type.setdefault(eq.equipment_type, []).append(eq.equipment_id)
        return {t: sorted(ids) for t, ids in sorted(by_type.items())}

    def table(self, equipment_id: object) -> EquipmentTable:
        if isinstance(equipment_id, str) and equipment_id in self.equipment:
            return self.equipment[equipment_id]
        raise UnknownEquipment(str(equipment_id), close_matches(str(equipment_id), self.equipment))

    def metric(self, equipment_id: object, metric: object) -> MetricColumn:
        table = self.table(equipment_id)
        if isinstance(metric, str) and metric in table.metrics:
            return table.metrics[metric]
        raise UnknownMetric(table.equipment_id, str(metric), close_matches(str(metric), table.metrics))

    def ids_of_type(self, equipment_type: object) -> list[str]:
        types = self.types()
        if isinstance(equipment_type, str) and equipment_type in types:
            return types[equipment_type]
        raise UnknownEquipmentType(str(equipment_type), close_matches(str(equipment_type), types))


def close_matches(query: str, choices, limit: int = 3) -> list[str]:
    """Up to ``limit`` names like ``query``: only those nearly as close as the best one."""
    found = process.extract(query, list(choices), limit=limit)
    best = found[0][1] if found else 0
    return [match for match, score, _ in found if score >= max(50, best - 10)]


_COLUMNS_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema()
  AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_attribute t
              WHERE t.attrelid = c.oid AND t.attname = 'timestamp' AND NOT t.attisdropped)
ORDER BY c.relname, a.attnum
"""

_METADATA_SQL = """
SELECT equipment_id, equipment_type, display_name, building, zone, rated_capacity, rated_unit,
       install_date, criticality
FROM equipment
"""


def introspect(conn: psycopg.Connection) -> Catalog:
    """Read the catalog of equipment tables from ``conn``'s current schema."""
    columns: dict[str, dict[str, MetricColumn]] = {}
    for table, column, data_type in conn.execute(_COLUMNS_SQL):
        if table in _SHARED_TABLES:
            continue
        metrics = columns.setdefault(table, {})
        if column != "timestamp" and data_type in _NUMERIC_TYPES:
            metrics[column] = MetricColumn(column, unit_for(column), data_type)
    metadata = _metadata(conn)
    equipment = {}
    for table, metrics in columns.items():
        meta = metadata.get(table, {})
        inferred_type = re.sub(r"_\d+$", "", table)
        equipment[table] = EquipmentTable(
            equipment_id=table,
            equipment_type=str(meta.get("equipment_type") or inferred_type),
            display_name=str(meta.get("display_name") or table.replace("_", " ").title()),
            metrics=metrics,
            metadata=meta,
        )
    return Catalog(equipment)


def _metadata(conn: psycopg.Connection) -> dict[str, dict[str, object]]:
    if conn.execute("SELECT to_regclass('equipment')").fetchone()[0] is None:
        return {}
    cur = conn.execute(_METADATA_SQL)
    names = [d.name for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur}
