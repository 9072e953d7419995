"""Error and warning types. User errors carry everything needed to fix the input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where, what, and what is allowed."""

    file: str
    row: int | None
    field: str
    value: str
    allowed: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}, field {self.field!r}: got {self.value!r}; {self.allowed}"


class InputError(ValueError):
    """Bad input that the user must fix (exit code 2). Lists every problem found at once."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        lines = [message, *(f"  - {p}" for p in problems)]
        super().__init__("\n".join(lines))
        self.problems = problems


class CourierWarning(UserWarning):
    """Something the user should know that does not stop the plan."""
