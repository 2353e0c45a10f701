"""De-identified ingest of raw clinical recordings: subject codes, rename plan, upload, archive, restore.

Not a Glue job but the ``ingest``, ``restore`` and ``verify`` commands. ``read`` scans the source
tree and reads manifests, ``transform`` is the pure rename plan (with ``names`` and ``edf``),
``write`` uploads to landing and writes each subject's tar (``archive``) and manifest (``manifest``);
``restore`` and ``verify`` read them back. Every object goes through ``job_helpers.storage``, so
the rename plan can be tested and reviewed without moving a byte.
"""
