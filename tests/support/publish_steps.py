"""A Storage that calls a hook before every change it makes, for tests that kill, pause or watch a publish
at each of its steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from job_helpers.storage import Storage

Step = Callable[[str, str], None]
"""Called with the operation (``move``, ``delete``, ``write_if``, ``write``) and the URL it changes."""


class Killed(Exception):
    """The process died here."""


class SteppedStorage:
    """Wraps a Storage: ``step(operation, url)`` runs before each object it changes (each key of a batch delete)."""

    def __init__(self, inner: Storage, step: Step) -> None:
        self.inner, self.step = inner, step

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def move(self, source: str, target: str) -> None:
        self.step("move", target)
        self.inner.move(source, target)

    def delete(self, url: str) -> None:
        self.step("delete", url)
        self.inner.delete(url)

    def delete_many(self, urls: Iterable[str]) -> None:
        for url in urls:
            self.step("delete", url)
            self.inner.delete_many([url])

    def write_if(self, url: str, data: bytes, version: str | None) -> str:
        self.step("write_if", url)
        return self.inner.write_if(url, data, version)

    def write_bytes(self, url: str, data: bytes) -> None:
        self.step("write", url)
        self.inner.write_bytes(url, data)

    def write_text(self, url: str, text: str) -> None:
        self.step("write", url)
        self.inner.write_text(url, text)


class DyingStorage(SteppedStorage):
    """A Storage that dies after ``budget`` changes: every later change raises ``Killed`` too, as in a dead process."""

    def __init__(self, inner: Storage, budget: int) -> None:
        super().__init__(inner, self._spend)
        self.budget, self.spent = budget, 0

    def _spend(self, operation: str, url: str) -> None:
        if self.spent >= self.budget:
            raise Killed(f"killed before {operation} {url}, after {self.spent} change(s)")
        self.spent += 1
