"""The ``stedi:`` section of config.yml, parsed: what the STEDI jobs write and how they protect identities.

The jobs never read it: the control plane hands these values to them as job arguments through
``{stedi.<option>}`` references (``StediSettings.references``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_helpers.config_keys import SectionContext, check_keys

FORMATS = ("parquet", "json")
ML_JOINS = ("owner-and-time", "time-only")
# The keys of stedi:; config-check refuses any other.
KEYS = ("output_format", "pseudonymise", "pseudonym_key_file", "pseudonym_secret", "max_reject_share", "ml_join")


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
    fmt = str(node.get("output_format", "parquet"))
    if fmt not in FORMATS:
        problems.append(f"stedi.output_format: {fmt!r} is not one of {', '.join(FORMATS)}")
    pseudonymise = node.get("pseudonymise", True)
    if not isinstance(pseudonymise, bool):
        problems.append(f"stedi.pseudonymise: {pseudonymise!r} must be true or false")
        pseudonymise = True
    share = node.get("max_reject_share", 0.01)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        problems.append(f"stedi.max_reject_share: {share!r} must be a number from 0 to 1 (0.01 is 1%)")
        share = 0.01
    ml_join = str(node.get("ml_join", ML_JOINS[0]))
    if ml_join not in ML_JOINS:
        problems.append(f"stedi.ml_join: {ml_join!r} is not one of {', '.join(ML_JOINS)}")
    secret = str(node.get("pseudonym_secret") or "")
    if context.profile == "local":
        key_file = Path(str(node.get("pseudonym_key_file") or ".secrets/pseudonym.key"))
        key = (key_file if key_file.is_absolute() else context.base_dir / key_file).resolve().as_uri()
    else:
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", secret):
            problems.append(
                f"stedi.pseudonym_secret: {secret!r} is not a Secrets Manager secret name; "
                "set STEDI_PSEUDONYM_SECRET or edit config.yml"
            )
        key = f"secretsmanager:{secret}"
    return StediSettings(fmt, pseudonymise, key, secret, float(share), ml_join)
