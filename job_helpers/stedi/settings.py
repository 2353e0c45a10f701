"""The ``stedi:`` section of config.yml, parsed: what the STEDI jobs write and how they protect identities.

The jobs never read it: the control plane hands these values to them as job arguments through
``{stedi.<option>}`` references (``StediSettings.references``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_helpers.config_fields import Choice, Share, Switch
from job_helpers.config_keys import SectionContext, check_keys
from job_helpers.storage import file_url

FORMATS = ("parquet", "json")
ML_JOINS = ("owner-and-time", "time-only")
# The keys of stedi:; config-check refuses any other.
KEYS = ("output_format", "pseudonymise", "pseudonym_key_file", "pseudonym_secret", "max_reject_share", "ml_join")
OUTPUT_FORMAT = Choice(FORMATS, FORMATS[0])
PSEUDONYMISE = Switch(True)
MAX_REJECT_SHARE = Share(0.01)
ML_JOIN = Choice(ML_JOINS, ML_JOINS[0])


@dataclass(frozen=True)
class StediSettings:
    """The ``stedi:`` block, validated; ``pseudonym_key`` says where the key is, never the key itself."""

    output_format: str
    pseudonymise: bool
    pseudonym_key: str
    pseudonym_secret: str
    max_reject_share: float
    ml_join: str = ML_JOINS[0]

    def references(self) -> dict[str, str]:
        """The ``{stedi.<option>}`` values job arguments may use."""
        return {
            "stedi.output_format": self.output_format,
            "stedi.pseudonymise": "true" if self.pseudonymise else "false",
            "stedi.pseudonym_key": self.pseudonym_key,
            "stedi.max_reject_share": repr(self.max_reject_share),
            "stedi.ml_join": self.ml_join,
        }


def parse(node: Any, context: SectionContext, problems: list[str]) -> StediSettings:
    """Validate ``stedi:`` and work out where the pseudonym key is for the profile."""
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append("stedi: expected a mapping of STEDI job options")
        node = {}
    check_keys(node, KEYS, "stedi", problems)
    fmt = OUTPUT_FORMAT.read(node, "output_format", "stedi", problems)
    pseudonymise = PSEUDONYMISE.read(node, "pseudonymise", "stedi", problems)
    share = MAX_REJECT_SHARE.read(node, "max_reject_share", "stedi", problems)
    ml_join = ML_JOIN.read(node, "ml_join", "stedi", problems)
    secret = str(node.get("pseudonym_secret") or "")
    if context.profile == "local":
        key_file = Path(str(node.get("pseudonym_key_file") or ".secrets/pseudonym.key"))
        key = file_url((key_file if key_file.is_absolute() else context.base_dir / key_file).resolve())
    else:
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", secret):
            problems.append(
                f"stedi.pseudonym_secret: {secret!r} is not a Secrets Manager secret name; "
                "set STEDI_PSEUDONYM_SECRET or edit config.yml"
            )
        key = f"secretsmanager:{secret}"
    return StediSettings(fmt, pseudonymise, key, secret, float(share), ml_join)
