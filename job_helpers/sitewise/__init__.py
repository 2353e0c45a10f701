"""Repartitioning of the AWS IoT SiteWise cold tier: many small raw Avro files per day become one.

Modules, each with one job: ``keys`` (where files live and what their names say),
``avro_blocks`` (container files merged block by block), ``series`` (which time series a run
takes), ``day_index`` (what each day has already merged), ``day_merge`` (one day, end to end),
``repartition`` (a chunk of days in parallel) and ``sample_data`` (a synthetic cold tier).
"""
