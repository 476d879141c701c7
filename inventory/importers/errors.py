"""What an import reports: row-level errors that reject a file whole, or what it wrote."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RowError(BaseModel):
    """One problem in an input file, precise enough to fix in a spreadsheet."""

    file: str
    line: int = Field(description="1-based line in the file; the header is line 1.")
    column: str | None = Field(default=None, description="None when the whole row is wrong.")
    value: str | None = None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column is None:
            return f"{where}: {self.reason}"
        return f"{where}: column {self.column!r} = {self.value!r}: {self.reason}"


class ImportRejected(ValueError):
    """The file was rejected whole; nothing was written. ``errors`` lists every problem found."""

    def __init__(self, file: str, errors: list[RowError]) -> None:
        self.file = file
        self.errors = sorted(errors, key=lambda error: error.line)
        errors = self.errors
        shown = "\n".join(f"  {error}" for error in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{file} rejected with {len(errors)} error(s):\n{shown}{more}")


class ImportReport(BaseModel):
    kind: str = Field(description="The ImportKind: cities, categories, locations, lanes, ...")
    file: str
    rows: int = Field(description="Data rows read and validated.")
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    movements: int = Field(default=0, description="Stock movements booked (stock imports).")
