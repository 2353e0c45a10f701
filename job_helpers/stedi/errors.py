"""The one exception family of the STEDI jobs; job scripts turn it into ``JobFailed``."""


class StediError(Exception):
    """A STEDI job cannot finish; the message names the argument, location or share and the fix."""
