"""The one failure a job raises on purpose: part of its work failed, and the message says which part and what to fix.

It imports nothing, so argument parsing, data set code and the runtime all raise it without
pulling in Spark, boto3 or each other.
"""


class JobFailed(Exception):
    """The job ran to its end but part of its work failed; the message says which part."""
