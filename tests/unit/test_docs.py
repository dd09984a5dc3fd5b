"""The README and docs/ pages stay short where they must, and everything they name exists:
relative links (and their anchors), repository paths in backticks, and `make` targets."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.harness.repo import REPO

README = REPO / "README.md"
README_LIMIT_BYTES = 8 * 1024
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
MAKE_CALL = re.compile(r"(?:^|[\s;&|(])make\s+([^;&|)#]*)")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = re.compile(r"[<>*$?{}\[\]]")


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def top_level_entries() -> set[str]:
    """The repository's tracked top-level names (deploy, tests, dagster.yaml, .env.example, ...)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    return {name.split("/", 1)[0] for name in listing.stdout.split("\0") if name}


def split_code(text: str) -> tuple[str, list[str]]:
    """The page's prose (code removed) and its code: each inline span and each fenced line."""
    code = []
    for block in FENCE.finditer(text):
        code.extend(block.group(0).splitlines()[1:-1])
    prose = FENCE.sub("", text)
    code.extend(span.group(2) for span in INLINE_CODE.finditer(prose))
    return INLINE_CODE.sub("", prose), code


def words(code: str) -> list[str]:
    """Shell words of one piece of code, so a quoted path with spaces stays one word."""
    try:
        return shlex.split(code, comments=True)
    except ValueError:  # an apostrophe in prose-like code, a YAML line
        return code.split()


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    prose = FENCE.sub("", text)
    anchors, seen = set(), {}
    for heading in HEADING.findall(prose):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(page: Path, text: str) -> list[str]:
    prose, _ = split_code(text)
    broken = []
    for target in LINK.findall(prose):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        if not path_part:
            linked_text = text
        elif (linked := (page.parent / path_part).resolve()).exists():
            linked_text = linked.read_text(encoding="utf-8") if linked.suffix == ".md" else None
        else:
            broken.append(f"{target}: no such file")
            continue
        if anchor and linked_text is not None and anchor not in heading_anchors(linked_text):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    return broken


def named_paths(text: str, top_level: set[str]) -> set[str]:
    """Words in code that name a repository path: they start with a tracked top-level entry."""
    _, code = split_code(text)
    paths = set()
    for piece in code:
        for word in words(piece):
            word = ASSIGNMENT.sub("", word).rstrip(".,;:)").split("#")[0]
            if not word or PLACEHOLDER.search(word) or "://" in word:
                continue
            first = word.removeprefix("./").split("/", 1)[0]
            if first in top_level and ("/" in word or word == first):
                paths.add(word.removeprefix("./"))
    return paths


def missing_paths(text: str, top_level: set[str]) -> list[str]:
    return sorted(path for path in named_paths(text, top_level) if not (REPO / path).exists())


def makefile_targets() -> set[str]:
    """Targets of the Makefile's rules (`name: ...` lines), with $(VAR) spelled out."""
    makefile = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+)\s*:?=\s*(\S+)\s*$", makefile, re.MULTILINE))
    targets = set()
    for names in re.findall(r"^([^\s#:=][^:=\n]*?)[ \t]*:(?!=)", makefile, re.MULTILINE):
        for name in names.split():
            targets.add(re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), name))
    return targets


def unknown_make_targets(text: str, targets: set[str]) -> list[str]:
    _, code = split_code(text)
    unknown = set()
    for piece in code:
        for arguments in MAKE_CALL.findall(piece):
            named = [word for word in words(arguments) if not word.startswith("-") and not ASSIGNMENT.match(word)]
            if named and not PLACEHOLDER.search(named[0]) and named[0] not in targets:
                unknown.add(named[0])
    return sorted(unknown)


def test_readme_is_a_front_page():
    size = README.stat().st_size
    assert size <= README_LIMIT_BYTES, f"README.md is {size} bytes; the front page stays within {README_LIMIT_BYTES}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    assert broken_links(page, page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_named_repository_paths_exist(page):
    assert missing_paths(page.read_text(encoding="utf-8"), top_level_entries()) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_named_make_targets_exist(page):
    assert unknown_make_targets(page.read_text(encoding="utf-8"), makefile_targets()) == []


def test_the_checks_catch_what_they_look_for():
    """Each check finds a planted mistake, so an empty answer above means something."""
    text = (
        "Run `make up`, then `make frobnicate`. See `deploy/scripts/compose.sh`, `deploy/no-such.sh`,\n"
        "[ops](docs/missing.md), [front](README.md#no-such-heading) and [this](#the-title).\n"
        "# The title\n"
        '```sh\nmake drop FILE="samples/no such file.csv"\n```\n'
    )
    page = REPO / "page.md"
    assert missing_paths(text, top_level_entries()) == ["deploy/no-such.sh", "samples/no such file.csv"]
    assert unknown_make_targets(text, makefile_targets()) == ["frobnicate"]
    assert broken_links(page, text) == [
        "docs/missing.md: no such file",
        "README.md#no-such-heading: no heading with anchor #no-such-heading",
    ]
