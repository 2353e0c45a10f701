"""Every job imports on Glue 5.1: only what Glue provides plus what the job asks it to install.

glue_python_modules.txt is AWS's list of the modules Glue 5.1 provides. Each job script, and
every module any import statement it can reach names (lazy imports inside functions included),
is imported in a fresh interpreter where a meta-path finder refuses every top-level module that
is neither in the standard library nor in that list nor in the job's
``--additional-python-modules``, as Glue's interpreter would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from job_helpers.control.config import load_settings
from tests.support.project_imports import REPO, reachable

GLUE_MODULES = REPO / "glue_python_modules.txt"
MODULES_OPTION = "--additional-python-modules"

# Run in a fresh interpreter: argv[1] is a JSON object with the allowed distributions, the script
# and the (module, source, line) triples to import; prints a JSON list of the imports that failed.
CHECK = r"""
import importlib, importlib.abc, importlib.machinery, importlib.metadata, importlib.util, json, os, re, sys, sysconfig

spec = json.loads(sys.argv[1])
normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()
allowed_dists = {normal(d) for d in spec["distributions"]}
allowed = set(sys.stdlib_module_names) | {"job_helpers", "__job__"} | set(sys.builtin_module_names)
for top, dists in importlib.metadata.packages_distributions().items():
    if any(normal(d) in allowed_dists for d in dists):
        allowed.add(top)

paths = sysconfig.get_paths()
stdlib = [paths["stdlib"], paths["platstdlib"], os.path.join(paths["platstdlib"], "lib-dynload")]
in_stdlib = lambda top: importlib.machinery.PathFinder.find_spec(top, stdlib) is not None

class GlueModulesOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top not in allowed and top not in sys.modules and not in_stdlib(top):
            raise ModuleNotFoundError(f"No module named {top!r} on Glue 5.1", name=top)
        return None

sys.meta_path.insert(0, GlueModulesOnly())
failed = []
def attempt(module, where, load):
    try:
        load()
    except ImportError as error:
        failed.append(f"{where}: import {module}: {error}")

script = importlib.util.spec_from_file_location("__job__", spec["script"])
attempt(spec["script"], spec["script"], lambda: script.loader.exec_module(importlib.util.module_from_spec(script)))
for module, source, line in spec["imports"]:
    attempt(module, f"{source}:{line}", lambda: importlib.import_module(module))
print(json.dumps(failed))
"""


def _pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements-style file, by normalised name (extras dropped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normal(re.sub(r"\[.*\]", "", name))] = version
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requested(job) -> dict[str, str]:
    value = job.arguments.get(MODULES_OPTION, "")
    return _pins_from_text(value.replace(",", "\n"))


def _pins_from_text(text: str) -> dict[str, str]:
    pins = {}
    for item in text.splitlines():
        if item.strip():
            name, _, version = item.strip().partition("==")
            pins[_normal(name)] = version
    return pins


def _aws_jobs():
    # Read at collection, before the fixtures give every test a region: name one, as AWS_REGION would.
    settings = load_settings(REPO / "config.yml", "aws", environ={"AWS_REGION": "us-east-1"})
    return settings.jobs


JOBS = sorted(_aws_jobs())


def import_failures(script: Path, distributions: set[str]) -> list[str]:
    _, sites = reachable(script)
    spec = {
        "distributions": sorted(distributions),
        "script": str(script),
        "imports": sorted({(s.module, s.source, s.line) for s in sites}),
    }
    done = subprocess.run([sys.executable, "-c", CHECK, json.dumps(spec)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.subprocess
@pytest.mark.parametrize("name", JOBS)
def test_the_job_imports_with_only_what_glue_51_provides_and_what_it_requests(name):
    job = _aws_jobs()[name]
    failures = import_failures(REPO / job.script, set(_pins(GLUE_MODULES)) | set(_requested(job)))
    assert failures == [], f"{name} would fail on Glue 5.1; add the module to {MODULES_OPTION} in config.yml:\n" + "\n".join(
        failures
    )


@pytest.mark.subprocess
def test_the_check_refuses_a_module_glue_does_not_provide(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import json\n\ndef later():\n    import fastavro\n")
    failures = import_failures(script, set(_pins(GLUE_MODULES)))
    assert len(failures) == 1 and "import fastavro" in failures[0] and "on Glue 5.1" in failures[0]
    assert import_failures(script, set(_pins(GLUE_MODULES)) | {"fastavro"}) == []


@pytest.mark.parametrize("name", JOBS)
def test_jobs_request_only_what_glue_lacks_at_the_versions_requirements_pin(name):
    requested = _requested(_aws_jobs()[name])
    glue = _pins(GLUE_MODULES)
    pinned = _pins(REPO / "requirements.txt")
    for module, version in requested.items():
        assert module not in glue, f"{name} asks Glue for {module}=={version}; Glue 5.1 provides {module}=={glue[module]}"
        assert pinned.get(module) == version, f"{name} asks for {module}=={version}, requirements.txt pins {pinned.get(module)}"


def test_requirements_pin_what_glue_provides_at_glue_versions():
    glue = _pins(GLUE_MODULES)
    pinned = _pins(REPO / "requirements.txt")
    differ = {name: (version, glue[name]) for name, version in pinned.items() if name in glue and glue[name] != version}
    assert differ == {}, "requirements.txt pins (ours, Glue 5.1's): " + str(differ)
    for name in ("boto3", "botocore", "numpy", "pyarrow", "pyspark", "awsgluedataplanepython"):
        assert pinned.get(name) == glue[name]
