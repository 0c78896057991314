"""Names the layer2 tests share (fixtures live in tests/conftest.py)."""

from datetime import timedelta

from tests.conftest import PLANT_END

PLANT_NOW = PLANT_END
DAY = timedelta(days=1)
