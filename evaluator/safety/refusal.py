"""One op a model may not run, where it sits, and why: the sentence a person reads."""

from __future__ import annotations

from dataclasses import dataclass

from evaluator.safety.allowlist import family_reason

TRUST_HINT = "pass --trust-model to run it anyway"
NOT_ALLOWED = "is not on the list of ops that only compute"


@dataclass(frozen=True)
class Refusal:
    op: str
    where: str  # 'node "write", in function "__inference_f_12"'; 'operator 3 of subgraph "main"'
    reason: str
    more: int = 0  # further nodes with the same op
    kind: str = "op"  # or "layer", "object", "setting" in a .keras config

    def describe(self) -> str:
        others = f" and {self.more} more" if self.more else ""
        return f"{self.kind} {self.op} ({self.where}{others}) {self.reason}"

    def __str__(self) -> str:
        return f"refused: {self.describe()}"


def refusal_message(refused: list[Refusal], hint: str = TRUST_HINT) -> str:
    """Every refusal of one model, then what to do about them, once: one line."""
    return "; ".join([*map(str, refused), hint])


def reason_for(op: str) -> str:
    """Why a TensorFlow op outside the allow-list is refused, from its name family."""
    return family_reason(op) or NOT_ALLOWED


def node_where(node: str, function: str | None) -> str:
    where = f'node "{node}"'
    return f'{where}, in function "{function}"' if function else where


def merge(found: list[Refusal]) -> list[Refusal]:
    """One refusal per op, at its first place, counting the others: a graph with a hundred
    ``SaveV2`` nodes is one sentence."""
    first: dict[str, Refusal] = {}
    for r in found:
        if r.op in first:
            prev = first[r.op]
            first[r.op] = Refusal(prev.op, prev.where, prev.reason, prev.more + 1, prev.kind)
        else:
            first[r.op] = r
    return list(first.values())
