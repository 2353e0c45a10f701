"""`build`: package the code and upload it where the profile's jobs will load it from."""

from __future__ import annotations

import argparse

from job_helpers.cli import CliContext
from job_helpers.control.build import build
from job_helpers.control.config import refuse_examples


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="write build/job_helpers.zip, the job scripts and build/manifest.json, and upload them",
        description="Uploads under <glue_assets>builds/<content hash>/; an unchanged tree uploads nothing.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    refuse_examples(context.settings)
    result = build(context.repo_root, context.build_dir, context.settings.datasets["glue_assets"], context.storage)
    artifact = result.artifact
    context.console.print(f"Built {len(result.files)} files into {context.build_dir} (content {artifact.content_hash[:16]})")
    if result.uploaded:
        context.console.print(f"Uploaded to {artifact.base_url}")
    else:
        context.console.print(f"Unchanged: already uploaded to {artifact.base_url}; nothing uploaded")
    return 0
