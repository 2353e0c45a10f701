"""De-identified ingest of raw clinical recordings: subject codes, rename plan, upload, archive, restore.

Pure logic (``names``, ``edf``, ``plan``, ``manifest``, ``subjects.assign_codes``) is kept apart from
the modules that touch files or S3 (``scan``, ``objects``, ``archive``, ``run``, ``restore``), so the
rename plan can be tested and reviewed without moving a byte.
"""
