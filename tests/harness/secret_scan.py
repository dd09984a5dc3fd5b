"""Finds secrets in bytes, files and image archives: the values our env files generate, private key
blocks and AWS access key ids. Everything is streamed in chunks, so a 400 MB layer never sits in
memory, and chunks overlap so a secret cut in two by a chunk boundary is still found. A finding
names the secret (e.g. "POSTGRES_PASSWORD from .env"), never its value: test output is not a vault."""

import json
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

# Shorter values would match by chance; every secret the project generates is longer.
MIN_SECRET_LENGTH = 12
CHUNK_SIZE = 1 << 20
# Each pattern starts with a literal so `re` can skip ahead fast (a look-behind would make it 50x slower).
PATTERNS = {
    # A key block: the header and, before any "-----", key material. A header alone is what every
    # PEM parser (libssh2, gnutls) carries as a string constant, and is no secret.
    "a private key": re.compile(
        rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:(?!-----).){0,200}?[A-Za-z0-9+/]{32}", re.DOTALL
    ),
    # Not followed by another key character: a key id is a token of its own, not part of a longer
    # run of capitals such as the Unicode name table in libunistring.
    "an AWS access key id": re.compile(rb"AKIA[0-9A-Z]{16}(?![0-9A-Z])"),
}
# The longest text a pattern above can match: 11 + 40 + 16 for the key header, 200 + 32 for the body.
LONGEST_PATTERN_MATCH = 299
TAR_MAGIC_OFFSET = 257
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, order=True)
class Finding:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _is_tar(head: bytes) -> bool:
    """A layer inside a `docker save` archive: a plain tar, or gzipped as the containerd image store
    keeps pulled layers (its blobs are saved as stored)."""
    if head.startswith(ZSTD_MAGIC):
        # Python's tarfile cannot open zstd before 3.14; scanning it as raw bytes would miss everything.
        raise ValueError("a zstd-compressed layer cannot be scanned")
    return head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar" or head.startswith(GZIP_MAGIC)


class SecretScanner:
    def __init__(self, secrets: Mapping[str, str], chunk_size: int = CHUNK_SIZE):
        """secrets: value -> what to call it in a finding."""
        self.secrets = {value.encode(): name for value, name in secrets.items() if len(value) >= MIN_SECRET_LENGTH}
        self.chunk_size = chunk_size
        self.overlap = max([LONGEST_PATTERN_MATCH, *map(len, self.secrets)]) - 1

    def scan_bytes(self, data: bytes) -> set[str]:
        """What is in data, as names: one entry however many times it occurs."""
        found = {name for value, name in self.secrets.items() if value in data}
        found.update(what for what, pattern in PATTERNS.items() if pattern.search(data))
        return found

    def scan_stream(self, where: str, stream: BinaryIO) -> list[Finding]:
        found: set[str] = set()
        tail = b""
        while chunk := stream.read(self.chunk_size):
            window = tail + chunk
            found |= self.scan_bytes(window)
            tail = window[-self.overlap :]
        return [Finding(where, what) for what in sorted(found)]

    def scan_tar(self, where: str, stream: BinaryIO) -> Iterator[Finding]:
        """Every regular file of a tar stream (plain or compressed), read once, front to back."""
        with tarfile.open(fileobj=stream, mode="r|*", bufsize=self.chunk_size) as archive:
            for member in archive:
                if member.isfile():
                    yield from self.scan_stream(f"{where}:{member.name}", archive.extractfile(member))

    def scan_image_archive(self, stream: BinaryIO) -> list[Finding]:
        """A `docker save` of one or more images: every file of every layer, and the image configs
        (env, labels, history with build args) as raw JSON. Docker writes a layer shared by several
        of the saved images once (by layer ID, or by digest in the OCI layout), so it is scanned
        once. A finding names the images whose manifest lists the layer or config it is in."""
        found: list[tuple[str, Finding]] = []
        manifest: list[dict] = []
        with tarfile.open(fileobj=stream, mode="r|", bufsize=self.chunk_size) as archive:
            for member in archive:
                if not member.isfile():
                    continue
                content = archive.extractfile(member)
                if member.name == "manifest.json":
                    manifest = json.load(content)
                    continue
                scan = self.scan_tar if _is_tar(content.peek(512)) else self.scan_stream
                found += [(member.name, finding) for finding in scan(member.name, content)]
        images_of: dict[str, set[str]] = {}
        for image in manifest:
            for name in [image["Config"], *image["Layers"]]:
                images_of.setdefault(name, set()).update(image.get("RepoTags") or [image["Config"]])
        return sorted(
            Finding(f"{' '.join(sorted(images_of.get(name, {'?'})))}: {finding.where}", finding.what)
            for name, finding in found
        )
