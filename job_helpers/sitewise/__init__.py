"""Repartitioning of the AWS IoT SiteWise cold tier: many small raw Avro files per day become one.

Modules, each with one job: ``keys`` (where files live and what their names say),
``avro_blocks`` (container files merged block by block, snappy checksums checked), ``series``
(which time series a run takes), ``day_index`` (what each day has committed, changed only by
conditional writes), ``staging`` (outputs waiting for their commit), ``day_merge`` (one day, end
to end), ``work_dir`` (a run's local folder), ``repartition`` (a chunk of days in parallel) and
``sample_data`` (a synthetic cold tier).
"""
