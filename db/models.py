"""SQLAlchemy 2 typed models: the schema of breedbench.

Conventions: every column is ``Mapped[...]``; ``Mapped[X | None]`` is the only way a column
becomes nullable. Table and index names are constants, and ``NAMING_CONVENTION`` names every
constraint so that Alembic's batch mode on SQLite can find them again.

An image's ``status`` is a cache of its review history: ``reviews`` is append-only, and
``db.reviews.record_decision`` recomputes ``status`` in the same transaction that appends the row.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.provenance import PROVENANCE_FIELDS, Provenance

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON everywhere, JSONB on PostgreSQL (indexable, compact); SQLite stores text.
JSONType = JSON().with_variant(JSONB(), "postgresql")

TABLE_BREEDS = "breeds"
TABLE_IMAGES = "images"
TABLE_REVIEWS = "reviews"
TABLE_IMAGE_FLAGS = "image_flags"
TABLE_CRAWL_RUNS = "crawl_runs"
TABLE_MODELS = "models"
TABLE_MODEL_VERSIONS = "model_versions"
TABLE_CALIBRATION_IMAGES = "calibration_images"
TABLE_EVAL_RUNS = "eval_runs"
TABLE_PREDICTIONS = "predictions"
TABLE_LABEL_CHECKS = "label_checks"
IX_ONE_RUNNING_CRAWL = "ux_crawl_runs_one_running_crawl"
ONE_RUNNING_CRAWL_WHERE = "status = 'running' AND kind = 'crawl'"
TABLE_REVIEW_LEASES = "review_leases"
TABLE_REFERENCE_PINS = "reference_pins"
TABLE_SCREENING_RUNS = "screening_runs"
TABLE_SCREENINGS = "screenings"


def utcnow() -> datetime:
    """Timezone-aware now; stored as UTC on both databases."""
    return datetime.now(UTC)


class ImageStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    SKIP = "skip"  # seen, no opinion: recorded so the queue can move on; does not change status
    RELABEL = "relabel"  # the image shows another breed; ``target_breed_id`` says which
    UNDO = "undo"  # cancels ``undoes_id``; the status is derived again without it
    RESET = "reset"  # send back to review (e.g. from the mistakes gallery): status back to pending


class FlagKind(enum.StrEnum):
    NEAR_DUPLICATE = "near_duplicate"  # near-identical to another image of the same breed
    CROSS_BREED = "cross_breed"  # the same (or near-same) picture stored for two breeds
    LEAK = "leak"  # near-matches an image of a reference (training) set


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    PARTIAL = "partial"  # a crawl some of whose sources failed while others answered


def _enum(e: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum type) so adding a member needs no migration.
    return Enum(e, name=name, native_enum=False, length=20, values_callable=_values)


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType}


class Breed(Base):
    """One of the classes of the test set (seeded with the 120 Stanford Dogs breeds)."""

    __tablename__ = TABLE_BREEDS

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)  # as in the classic breeds.csv
    name: Mapped[str] = mapped_column(String(120))
    synset: Mapped[str | None] = mapped_column(String(12), unique=True)  # WordNet id, n02085620
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the seed list
    query: Mapped[str] = mapped_column(String(200))  # the search query in use
    dog_keyword: Mapped[bool] = mapped_column(default=False)  # append "dog" to the query
    # A reviewer said the query finds the wrong things; the next crawl uses the dog keyword.
    query_flagged_by: Mapped[str | None] = mapped_column(String(120))
    query_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    target: Mapped[int] = mapped_column(Integer, default=50)
    # The word a query takes when the name alone finds other things (NULL: "dog"; a cat list
    # says "cat"), and whether the breed's list marked its name so (NULL: the curated list of
    # Stanford names in ``db.breeds.AMBIGUOUS`` decides).
    keyword: Mapped[str | None] = mapped_column(String(40))
    ambiguous: Mapped[bool | None] = mapped_column()

    images: Mapped[list[Image]] = relationship(
        back_populates="breed", foreign_keys="Image.breed_id"
    )


class CrawlRun(Base):
    """One ``breedbench crawl`` or ``import``: its settings and its tallies (found, stored,
    refused by reason, ...), so that a crawl can be explained afterwards."""

    __tablename__ = TABLE_CRAWL_RUNS
    __table_args__ = (
        # One crawl at a time per database, whoever starts it: a second running crawl row is
        # refused by the database itself (``db.crawl_runs``).
        Index(
            IX_ONE_RUNNING_CRAWL,
            "kind",
            unique=True,
            sqlite_where=text(ONE_RUNNING_CRAWL_WHERE),
            postgresql_where=text(ONE_RUNNING_CRAWL_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="crawl")  # crawl | import
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "run_status"), default=RunStatus.RUNNING
    )
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The process doing the run (``core.processes``): a run left ``running`` by a process that
    # is gone (killed outright) is found and marked ``interrupted``.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    process_started: Mapped[float | None] = mapped_column(Float)  # seconds since the epoch


class Image(Base):
    """A candidate test image: the original bytes are in the store under their sha256."""

    __tablename__ = TABLE_IMAGES
    __table_args__ = (
        # The same bytes may be kept for two breeds (a cross-breed conflict), never twice for one.
        UniqueConstraint("breed_id", "sha256"),
        # The review queue and the breed counts: "pending images of breed X, oldest first".
        Index("ix_images_breed_status", "breed_id", "status", "id"),
        # The review queue over all breeds: "pending images in breed order", read in index order.
        Index("ix_images_status_breed", "status", "breed_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    # The breed it was crawled or imported for; ``breed_id`` differs after a relabel.
    found_breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # 64-bit perceptual hashes as signed integers (SQLite's INTEGER is signed 64-bit).
    phash: Mapped[int | None] = mapped_column(BigInteger, index=True)
    dhash: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))  # JPEG, PNG, WEBP, GIF, ... (sniffed)
    byte_size: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(200))  # store-relative, derived from sha256 only
    thumb_path: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))  # openverse, wikimedia, flickr, import, ...
    query: Mapped[str | None] = mapped_column(String(200))  # the query that found it
    url: Mapped[str | None] = mapped_column(Text)
    # The URL the search result gave when redirects moved the image to ``url`` (where the bytes
    # were fetched); NULL when it was not redirected.
    requested_url: Mapped[str | None] = mapped_column(Text)
    landing_url: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(80))
    license_version: Mapped[str | None] = mapped_column(String(20))
    license_url: Mapped[str | None] = mapped_column(Text)
    creator: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ImageStatus] = mapped_column(
        _enum(ImageStatus, "image_status"), default=ImageStatus.PENDING, index=True
    )
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey(f"{TABLE_CRAWL_RUNS}.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What the source says of the image's dates (``db.image_dates``): published (indexed: the
    # freshness window and ``evaluate --uploaded-after`` select on it), captured, and when
    # Openverse indexed it (the upload happened on or before that).
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    breed: Mapped[Breed] = relationship(back_populates="images", foreign_keys=[breed_id])
    reviews: Mapped[list[Review]] = relationship(
        back_populates="image", order_by="Review.id", foreign_keys="Review.image_id"
    )

    # The origin columns stay flat (queryable, no migration); code reads and writes them as one
    # record, so no place copies them field by field. ``Image(provenance=...)`` sets them all.
    @property
    def provenance(self) -> Provenance:
        return Provenance.of(self)

    @provenance.setter
    def provenance(self, value: Provenance) -> None:
        for name in PROVENANCE_FIELDS:
            setattr(self, name, getattr(value, name))


class Review(Base):
    """One decision; append-only. Undo is a new row pointing at the row it cancels."""

    __tablename__ = TABLE_REVIEWS
    __table_args__ = (
        # Deriving an image's status reads its decisions in order.
        Index("ix_reviews_image_id_id", "image_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"))
    reviewer: Mapped[str] = mapped_column(String(120), index=True)
    decision: Mapped[Decision] = mapped_column(_enum(Decision, "decision"))
    reason: Mapped[str | None] = mapped_column(String(200))
    target_breed_id: Mapped[int | None] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    # Indexed: "is this decision undone?" is asked for every image in a review queue.
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey(f"{TABLE_REVIEWS}.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The id the reviewer's browser gave this decision: a resent decision is recognised, never
    # recorded twice (None for decisions from the CLI and the other pages).
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    image: Mapped[Image] = relationship(back_populates="reviews", foreign_keys=[image_id])


class ReviewLease(Base):
    """An image handed to one reviewer's queue window: nobody else gets it until it expires."""

    __tablename__ = TABLE_REVIEW_LEASES

    image_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_IMAGES}.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ImageFlag(Base):
    """Something a reviewer should look at: a near-duplicate, a cross-breed conflict, a leak."""

    __tablename__ = TABLE_IMAGE_FLAGS
    __table_args__ = (Index("ix_image_flags_kind_resolved", "kind", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"), index=True)
    kind: Mapped[FlagKind] = mapped_column(_enum(FlagKind, "flag_kind"))
    other_image_id: Mapped[int | None] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"))
    distance: Mapped[int | None] = mapped_column(Integer)  # Hamming distance of the hashes
    detail: Mapped[str | None] = mapped_column(Text)  # e.g. the reference file of a leak
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolution: Mapped[str | None] = mapped_column(String(200))


class Model(Base):
    """A model family (``inception-breeds``); its versions are the files actually measured."""

    __tablename__ = TABLE_MODELS

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[ModelVersion]] = relationship(back_populates="model")


class ModelVersion(Base):
    """One model file (frozen ``.pb``, ``.tflite``, SavedModel, ``.keras``) and how to feed it."""

    __tablename__ = TABLE_MODEL_VERSIONS
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_MODELS}.id"))
    version: Mapped[str] = mapped_column(String(60))
    format: Mapped[str] = mapped_column(String(20))  # frozen_pb | tflite | saved_model | keras
    path: Mapped[str] = mapped_column(Text)  # where the file lives (copied into the data dir)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the model spec (see evaluator)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey(f"{TABLE_MODEL_VERSIONS}.id"))
    conversion: Mapped[dict[str, Any] | None] = mapped_column()  # quantization settings, ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Registered with --trust-model: its ops are not checked when it loads (models are code).
    trusted: Mapped[bool] = mapped_column(default=False)
    # What a .tflite computes in, read from its tensors at registration (evaluator.quantization).
    quantization: Mapped[dict[str, Any] | None] = mapped_column()

    model: Mapped[Model] = relationship(back_populates="versions")


class CalibrationImage(Base):
    """Images used to calibrate a quantized version: its evaluation must exclude or report them."""

    __tablename__ = TABLE_CALIBRATION_IMAGES

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_MODEL_VERSIONS}.id"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"), primary_key=True)


class EvalRun(Base):
    """One evaluation of one model version on an exact, hashed set of accepted images."""

    __tablename__ = TABLE_EVAL_RUNS
    __table_args__ = (
        # ``breedbench history``: runs of a version, newest first.
        Index("ix_eval_runs_version_started", "model_version_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_MODEL_VERSIONS}.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[RunStatus] = mapped_column(
        _enum(RunStatus, "run_status"), default=RunStatus.RUNNING
    )
    dataset_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    n_images: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The breed of each value in its predictions' ``probs`` (the model's breed classes, in order);
    # NULL for runs recorded before probabilities were kept.
    prob_breed_ids: Mapped[list[Any] | None] = mapped_column()

    model_version: Mapped[ModelVersion] = relationship()


class Prediction(Base):
    """One image's result in one run: the top-5 as stored JSON ``[[breed_id, prob], ...]``."""

    __tablename__ = TABLE_PREDICTIONS
    __table_args__ = (UniqueConstraint("run_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_EVAL_RUNS}.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"), index=True)
    true_breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    rank: Mapped[int | None] = mapped_column(Integer)  # 1-based rank of the true breed in top-5
    top5: Mapped[list[Any]] = mapped_column(default=list)
    latency_ms: Mapped[float | None] = mapped_column()
    # The model's probability of every breed it predicts, as float16 bytes in the run's
    # ``prob_breed_ids`` order (``db.probabilities``): what label-error ranking reads.
    probs: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A run cropped by a detector: {"box": [left, top, right, bottom] px, "size": [w, h],
    # "score", "dog": normalised box}; None when the image was classified whole.
    crop: Mapped[dict[str, Any] | None] = mapped_column()


class LabelCheck(Base):
    """A reviewer looked at a suspected label error and kept the label: the image stays hidden
    from the suspects list until new runs raise its score above ``score`` (or its label changes).
    """

    __tablename__ = TABLE_LABEL_CHECKS
    __table_args__ = (Index("ix_label_checks_image_id_id", "image_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"))
    breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))  # the label kept
    score: Mapped[float] = mapped_column(Float)  # the suspicion score when it was kept
    reviewer: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReferencePin(Base):
    """An accepted image a reviewer chose as one of its breed's canonical reference pictures.

    The breed is the image's at pin time: a pin whose image was relabelled or is no longer
    accepted is kept but not shown (``review.references``)."""

    __tablename__ = TABLE_REFERENCE_PINS
    __table_args__ = (UniqueConstraint("breed_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"), index=True)
    pinned_by: Mapped[str] = mapped_column(String(120))
    pinned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScreeningRun(Base):
    """One ``breedbench screen``: a model version run over pending images before review. Kept
    for good, so an evaluation of that version (or of its lineage) can say it screened the set."""

    __tablename__ = TABLE_SCREENING_RUNS

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_MODEL_VERSIONS}.id"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    n_images: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


# A screening dog score below this marks an image "likely not a dog" (a mark, never a decision).
LIKELY_NOT_A_DOG = 0.5


class Screening(Base):
    """What a screening model said about one pending image: it orders and marks the review
    queue, never decides. The newest row of an image is the one shown."""

    __tablename__ = TABLE_SCREENINGS
    __table_args__ = (
        UniqueConstraint("run_id", "image_id"),
        # The queue's order and badges: "the newest screening of these images".
        Index("ix_screenings_image_id_id", "image_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey(f"{TABLE_SCREENING_RUNS}.id", ondelete="CASCADE")
    )
    image_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_IMAGES}.id"))
    claimed_breed_id: Mapped[int] = mapped_column(ForeignKey(f"{TABLE_BREEDS}.id"))
    # ImageNet-style model: summed probability of its dog classes; breeds-only: its top one.
    dog_score: Mapped[float] = mapped_column()
    # The model's probability of the claimed breed (NULL: it has no class for that breed).
    claimed_score: Mapped[float | None] = mapped_column()
    top3: Mapped[list[Any]] = mapped_column(default=list)  # [[breed_id, prob], ...]
    agrees: Mapped[bool | None] = mapped_column()  # top-1 is the claimed breed (NULL: uncovered)
