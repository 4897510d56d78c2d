"""The bias guard: an evaluation of a model that screened its own test set says so.

A screening model (``evaluator.screening``) ordered the review queue and marked images, so the
set it is later evaluated on was partly chosen with its help: its mistakes were more likely to
be looked at twice, and what it found easy was waved through. The same holds for any version
of its lineage (the version it was converted from, a converted child, a sibling conversion) and
for the same file registered under another name. ``screening_bias`` finds those screenings
among the evaluated images; ``evaluator.pipeline`` records its warnings on the run
(``settings["warnings"]``) and the CLI prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from db.models import Model, ModelVersion, Screening, ScreeningRun


def _root_and_sha(session: Session, version_id: int) -> tuple[int, str]:
    """The oldest ancestor of a version (its lineage) and the version's own file hash."""
    seen: set[int] = set()
    current = version_id
    sha = ""
    while True:
        row = session.execute(
            select(ModelVersion.parent_id, ModelVersion.sha256).where(ModelVersion.id == current)
        ).first()
        if row is None:
            return current, sha
        if current == version_id:
            sha = row.sha256
        seen.add(current)
        if row.parent_id is None or row.parent_id in seen:
            return current, sha
        current = row.parent_id


def _relation(session: Session, evaluated: int, screener: int) -> str | None:
    """How a screening version is related to an evaluated one, or None when it is not."""
    if evaluated == screener:
        return "the same version"
    chain, node = [], evaluated
    while node is not None and node not in chain:
        chain.append(node)
        node = session.scalar(select(ModelVersion.parent_id).where(ModelVersion.id == node))
    if screener in chain:
        return "a version it was converted from"
    node = screener
    visited: list[int] = []
    while node is not None and node not in visited:
        visited.append(node)
        node = session.scalar(select(ModelVersion.parent_id).where(ModelVersion.id == node))
    if evaluated in visited:
        return "a version converted from it"
    (root_e, sha_e), (root_s, sha_s) = (
        _root_and_sha(session, evaluated),
        _root_and_sha(session, screener),
    )
    if root_e == root_s:
        return "a version of its lineage"
    if sha_e and sha_e == sha_s:
        return "the same model file"
    return None


def screening_bias(session: Session, version_id: int, image_ids: Sequence[int]) -> list[str]:
    """Warnings for an evaluation of ``version_id`` on ``image_ids``: one per screening version
    of its lineage (itself, a parent, a converted child, ...) that screened some of them."""
    counts: Counter[int] = Counter()
    for chunk in id_chunks(sorted(set(image_ids))):
        rows = session.execute(
            select(ScreeningRun.model_version_id, func.count(func.distinct(Screening.image_id)))
            .join(ScreeningRun, ScreeningRun.id == Screening.run_id)
            .where(Screening.image_id.in_(chunk))
            .group_by(ScreeningRun.model_version_id)
        )
        for screener, n in rows:
            counts[screener] += n
    warnings = []
    for screener, n in sorted(counts.items()):
        relation = _relation(session, version_id, screener)
        if relation is None:
            continue
        ref = session.execute(
            select(Model.name, ModelVersion.version)
            .join(ModelVersion, ModelVersion.model_id == Model.id)
            .where(ModelVersion.id == screener)
        ).one()
        warnings.append(
            f"{n} of the {len(set(image_ids))} images were screened before review by "
            f"{ref[0]}:{ref[1]} ({relation}): it helped choose them, so this run may "
            "overstate its accuracy"
        )
    return warnings
