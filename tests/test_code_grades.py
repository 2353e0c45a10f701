"""Code grades (issue 20 §5): no function above cyclomatic complexity 15, every module at maintainability grade A.

Measured with radon's own API, as `radon cc` and `radon mi` measure them, so a failure here is the same
number the command line prints; the message names file:line and function, so the fix is obvious.
"""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit
from radon.metrics import mi_rank, mi_visit
from radon.visitors import Class, Function

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "job_helpers").rglob("*.py"), *(REPO / "jobs").rglob("*.py")])
MOST_COMPLEX = 15


def functions(blocks) -> list[Function]:
    """Every function and method radon found, each once.

    `cc_visit` lists each class's methods beside the class, so methods are taken from their class only.
    """
    return [found for block in blocks if not (isinstance(block, Function) and block.is_method) for found in opened(block)]


def opened(block) -> list[Function]:
    """A function with its closures, or a class down to its methods and inner classes."""
    if isinstance(block, Class):
        return [found for inner in [*block.methods, *block.inner_classes] for found in opened(inner)]
    return [block, *(found for closure in block.closures for found in opened(closure))]


def test_every_function_is_at_most_complexity_15():
    too_complex = [
        f"{path.relative_to(REPO)}:{function.lineno} {function.fullname} CC {function.complexity}"
        for path in SOURCES
        for function in functions(cc_visit(path.read_text(encoding="utf-8")))
        if function.complexity > MOST_COMPLEX
    ]
    assert too_complex == [], f"split these by meaning into named steps (CC at most {MOST_COMPLEX}):\n" + "\n".join(too_complex)


def test_every_module_is_at_maintainability_grade_a():
    below_a = []
    for path in SOURCES:
        index = mi_visit(path.read_text(encoding="utf-8"), multi=True)
        if mi_rank(index) != "A":
            below_a.append(f"{path.relative_to(REPO)} MI {index:.1f} (grade {mi_rank(index)})")
    assert below_a == [], "bring these modules to maintainability grade A (MI above 19):\n" + "\n".join(below_a)


def test_the_grades_see_methods_closures_and_low_maintainability():
    source = (
        "class Box:\n    def pick(self, x):\n        def inner(y):\n            return 1 if y else 2\n        return inner(x)\n"
    )
    names = {function.fullname for function in functions(cc_visit(source))}
    assert names == {"Box.pick", "inner"}
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(20))
    assert max(function.complexity for function in functions(cc_visit(f"def f(x):\n{branches}"))) == 21
    assert mi_rank(mi_visit(f"def f(x):\n{branches * 12}", multi=True)) != "A"
