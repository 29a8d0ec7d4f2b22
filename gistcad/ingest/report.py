"""What an import did: created, updated, skipped (with reasons) and the problems found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gistcad.problems import Problem


@dataclass
class ImportReport:
    """The outcome of one import; ``problems`` non-empty means nothing was written."""

    kind: str
    source: str
    center: str = ""
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """How many records were created, updated, unchanged and skipped."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": list(self.skipped),
            "problems": [
                {k: v for k, v in vars(p).items() if v is not None} | {"text": str(p)}
                for p in self.problems
            ],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        if not self.ok:
            head = (
                f"{self.kind} import of {self.source} refused: {len(self.problems)} "
                "problem(s); nothing was written. Fix them and run the import again:"
            )
            lines = [head, *(f"  - {p}" for p in self.problems)]
            if self.skipped:
                lines.append(f"  {len(self.skipped)} file(s) skipped (not imported, not refused):")
                lines += [f"  skipped: {s}" for s in self.skipped]
            return "\n".join(lines)
        verb = "would import" if self.dry_run else "imported"
        lines = [
            f"{self.kind} {verb} from {self.source}: {self.created} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped"
        ]
        lines += [f"  skipped: {s}" for s in self.skipped]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
