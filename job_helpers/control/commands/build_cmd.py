"""`build`: package the code and upload it where the profile's jobs will load it from."""

from __future__ import annotations

import argparse

from job_helpers.control import output
from job_helpers.control.build import build
from job_helpers.control.config import refuse_examples
from job_helpers.control.context import CliContext


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="write build/job_helpers.zip, the job scripts and build/manifest.json, and upload them",
        description=(
            "Uploads under <glue_assets>builds/<content hash>/; an unchanged tree uploads nothing. Each uploaded "
            "object's SHA-256 is checked against the built file; one that differs is uploaded again."
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, context: CliContext) -> int:
    refuse_examples(context.settings)
    result = build(context.repo_root, context.build_dir, context.settings.datasets["glue_assets"], context.storage)
    artifact = result.artifact
    context.console.print(f"Built {len(result.files)} files into {context.build_dir} (content {artifact.content_hash[:16]})")
    if result.replaced:
        output.warning(
            f"{len(result.replaced)} object(s) under {artifact.base_url} differed from this build (changed after the "
            f"upload?) and were uploaded again: {', '.join(url.removeprefix(artifact.base_url) for url in result.replaced)}"
        )
    if result.uploaded:
        context.console.print(f"Uploaded to {artifact.base_url}; every object's checksum matches the build")
    else:
        context.console.print(
            f"Unchanged: already uploaded to {artifact.base_url}, every object's checksum as built; nothing uploaded"
        )
    return 0
