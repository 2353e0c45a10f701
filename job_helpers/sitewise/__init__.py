"""Repartitioning of the AWS IoT SiteWise cold tier: many small raw Avro files per day become one.

The job's steps: ``parameters`` (its typed arguments), ``read`` (the series a run takes, what a
day holds and has committed, the raw files), ``transform`` (which days and files, what the merged
file is called; no I/O), ``readback`` (a staged file read back and its records reconciled before
its commit; committed files read back for ``--repair-days``), ``write`` (staging, the conditional
commit, moving into place, clearing what dead runs left) and ``run`` (the days in parallel, each
read → merged → read back → written on its own). Domain pieces: ``keys`` (where files live and
what their names say), ``avro_blocks`` (container files merged block by block, every block's
count and checksum checked), ``avro_records`` (the walk that checks a block's count against its
data), ``jit`` (their loops over every byte, compiled by numba on first use), ``series``
(associated or disassociated series), ``day_index`` (the day's manifest, changed only by
conditional writes), ``work_dir`` (a run's local folder) and ``sample_data`` (a synthetic cold
tier).
"""
