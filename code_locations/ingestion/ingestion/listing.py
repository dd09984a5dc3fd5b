"""Which objects in the landing bucket are new since the last sensor tick (pure, no Dagster).

S3 cannot list "objects newer than T", so the sensor walks what is still waiting in the landing
area (prefixes one level at a time, skipping `processed/` and `quarantine/`, which only grow) and
compares each object with a cursor:

    {"last_modified": <newest LastModified handled, epoch seconds>,
     "seen": {<key>: [<etag>, <LastModified>], ...}}

`seen` holds the objects handled within `lookback` seconds of `last_modified`. An object is new
when it is younger than that window and its key/ETag pair is not in `seen`. This handles objects
sharing a LastModified second (they are told apart by key), survives the newest object being
deleted or moved (only timestamps are compared), and sees a new upload under an old key (a new
LastModified). The lookback also tolerates small clock differences between uploads.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from stack_contract import ERROR_REPORT_SUFFIX, LANDING_RESERVED_PREFIXES

from stack_s3 import iter_objects

IGNORED_PREFIXES = LANDING_RESERVED_PREFIXES
IGNORED_SUFFIXES = (ERROR_REPORT_SUFFIX,)


@dataclass(frozen=True)
class LandedObject:
    key: str
    etag: str
    last_modified: float  # epoch seconds
    size: int

    @property
    def run_key(self) -> str:
        # The upload time tells a later re-drop of identical bytes from a repeated tick: the
        # re-drop gets a run (which archives it as a duplicate), a repeated tick does not.
        return f"{self.key}@{self.etag}@{self.last_modified:.0f}"


@dataclass
class Cursor:
    last_modified: float | None = None
    seen: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "Cursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data["last_modified"], {key: (etag, ts) for key, (etag, ts) in data["seen"].items()})

    def to_json(self) -> str:
        return json.dumps(
            {"last_modified": self.last_modified, "seen": {k: list(v) for k, v in sorted(self.seen.items())}},
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass
class Selection:
    new: list[LandedObject]
    cursor: Cursor
    waiting: int


def is_candidate(key: str) -> bool:
    return not (key.endswith("/") or key.startswith(IGNORED_PREFIXES) or key.endswith(IGNORED_SUFFIXES))


def list_landed(client, bucket: str) -> Iterator[LandedObject]:
    """Every object waiting in the landing area, walking prefixes and skipping the ignored ones."""
    prefixes = [""]
    while prefixes:
        for entry in iter_objects(client, bucket, prefixes.pop(), delimiter="/"):
            if "Prefix" in entry:
                if entry["Prefix"] not in IGNORED_PREFIXES:
                    prefixes.append(entry["Prefix"])
            elif is_candidate(entry["Key"]):
                yield LandedObject(
                    key=entry["Key"],
                    etag=entry["ETag"].strip('"'),
                    last_modified=_epoch(entry["LastModified"]),
                    size=entry["Size"],
                )


def _epoch(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def select_new(objects: Iterable[LandedObject], cursor: Cursor, lookback: float, limit: int) -> Selection:
    """The oldest `limit` new objects, and the cursor to store once they have been requested."""
    waiting = 0
    fresh = []
    for item in objects:
        waiting += 1
        if cursor.last_modified is not None and item.last_modified < cursor.last_modified - lookback:
            continue
        # Same key, bytes and upload time: handled. A re-upload, even of identical bytes, is new.
        if cursor.seen.get(item.key) == (item.etag, item.last_modified):
            continue
        fresh.append(item)
    fresh.sort(key=lambda item: (item.last_modified, item.key))
    taken = fresh[:limit]
    if not taken:
        return Selection(new=[], cursor=cursor, waiting=waiting)
    newest = max([taken[-1].last_modified] + ([cursor.last_modified] if cursor.last_modified is not None else []))
    seen = {**cursor.seen, **{item.key: (item.etag, item.last_modified) for item in taken}}
    seen = {key: value for key, value in seen.items() if value[1] >= newest - lookback}
    return Selection(new=taken, cursor=Cursor(newest, seen), waiting=waiting)
