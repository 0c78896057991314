"""The shared tables of the time-series database, as unmanaged models.

The tables belong to the plant's store (created by the seeder or the
customer); Django reads them through the router and never migrates them.
"""

from django.db import models


class Equipment(models.Model):
    equipment_id = models.TextField(primary_key=True)
    equipment_type = models.TextField()
    display_name = models.TextField()
    building = models.TextField(null=True)
    zone = models.TextField(null=True)
    rated_capacity = models.FloatField(null=True)
    rated_unit = models.TextField(null=True)
    install_date = models.DateField(null=True)
    criticality = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = "equipment"

    def __str__(self) -> str:
        return self.display_name


class Alert(models.Model):
    equipment = models.ForeignKey(Equipment, on_delete=models.DO_NOTHING, db_column="equipment_id")
    severity = models.TextField()
    metric = models.TextField()
    value = models.FloatField(null=True)
    threshold = models.FloatField(null=True)
    message = models.TextField()
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True)
    acknowledged = models.BooleanField(default=False)

    class Meta:
        managed = False
        db_table = "alerts"
