"""The operator diagnostics command against the seeded test database."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args) -> str:
    out = StringIO()
    call_command("test_timeseries_db", *args, stdout=out)
    return out.getvalue()


def test_every_check_passes_on_a_healthy_plant(configured_plant):
    out = run("--equipment", "pump_002")
    lines = out.strip().splitlines()
    assert len([line for line in lines if line.startswith("PASS")]) == 11
    assert "FAIL" not in out
    assert lines[-1] == "11 of 11 checks passed"


def test_unknown_equipment_fails_checks_and_exits_non_zero(configured_plant):
    out = StringIO()
    with pytest.raises(CommandError, match="checks failed"):
        call_command("test_timeseries_db", "--equipment", "pump_099", stdout=out)
    assert "FAIL  equipment pump_099 exists" in out.getvalue()
    assert "did you mean" in out.getvalue()
    assert "PASS  catalog introspection" in out.getvalue()
