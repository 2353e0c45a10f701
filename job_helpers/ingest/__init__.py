"""De-identified ingest of raw clinical recordings: subject codes, rename plan, upload, archive, restore.

Not a Glue job but the ``ingest``, ``restore`` and ``verify`` commands. ``read`` scans the source
tree, hashes every file and reads manifests; ``transform`` is the pure plan that builds every key
(with ``edf`` for headers, ``keep`` for the allow-list, ``names`` for the name check); ``payload``
streams each file as it leaves (``tal`` rewrites annotation texts) and checks it against the plan;
``write`` uploads to landing and writes each subject's tar (``archive``) and manifest
(``manifest``); ``restore`` and ``verify`` read them back. Every object goes through
``job_helpers.storage``, so the plan can be tested and reviewed without moving a byte.
"""
