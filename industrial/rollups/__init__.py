"""Rollups: hourly and daily aggregates of every metric of every equipment, kept exact.

``schema`` names and creates them, ``parts`` aggregates rows in numpy (the
seeder), ``writing`` stores parts and builds rollups from raw rows in SQL (a
customer's existing database), ``windows`` decides which stretch of a window
each source answers, and ``reading`` composes the statement that reads them.
"""
