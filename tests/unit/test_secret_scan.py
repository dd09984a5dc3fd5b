"""The secret scanner finds planted secrets wherever they hide in a saved image (a file of a plain or
gzipped layer, an image config, across a chunk boundary) and leaves alone what is no secret."""

import gzip
import io
import json
import tarfile

import pytest

from tests.harness.secret_scan import SecretScanner

SECRET = "correct-horse-battery-staple"
# Assembled from parts, so that this file does not itself hold what the repo scan looks for.
KEY_HEADER = b"-----BEGIN %s PRIVATE KEY-----" % b"EC"
PRIVATE_KEY = KEY_HEADER + (
    b"\nMHcCAQEEIBkg4LVWM9nuwNSk3yBvZ5bKa7vNLvaTfDbQsDmFqyQzoAoGCCqGSM49"
    b"\nAwEHoUQDQgAEmUxLW5HZGKQ9X0cMb3vpvzgVL2qFbOJLKmGGRUmEmY0lqE0kY8d7\n-----END EC PRIVATE KEY-----\n"
)
AWS_KEY_ID = b"AKIA" + b"Q" * 16


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("compress", [bytes, gzip.compress], ids=["plain layer", "gzipped layer"])
def test_finds_planted_secrets_in_a_saved_image(compress):
    layer = tar_of(
        {
            "etc/ssl/private/planted.key": PRIVATE_KEY,
            "app/settings.py": b"PASSWORD = '%s'\n" % SECRET.encode(),
            "app/clean.py": b"print('nothing to see')\n",
        }
    )
    config = json.dumps({"config": {"Env": [f"AWS_ACCESS_KEY_ID={AWS_KEY_ID.decode()}"]}}).encode()
    manifest = json.dumps([{"Config": "c0ffee.json", "RepoTags": ["planted:1"], "Layers": ["l4yer/layer.tar"]}])
    saved = tar_of({"l4yer/layer.tar": compress(layer), "c0ffee.json": config, "manifest.json": manifest.encode()})

    findings = SecretScanner({SECRET: "PLANTED_PASSWORD from test.env"}).scan_image_archive(io.BytesIO(saved))

    assert [str(finding) for finding in findings] == [
        "planted:1: c0ffee.json: an AWS access key id",
        "planted:1: l4yer/layer.tar:app/settings.py: PLANTED_PASSWORD from test.env",
        "planted:1: l4yer/layer.tar:etc/ssl/private/planted.key: a private key",
    ]


@pytest.mark.parametrize("offset", range(0, 40, 3))
def test_finds_secrets_cut_by_a_chunk_boundary(offset):
    content = b"x" * offset + SECRET.encode() + b"\n" + PRIVATE_KEY
    scanner = SecretScanner({SECRET: "PLANTED_PASSWORD"}, chunk_size=16)

    findings = scanner.scan_stream("file", io.BytesIO(content))

    assert {finding.what for finding in findings} == {"PLANTED_PASSWORD", "a private key"}


def test_leaves_alone_what_is_no_secret():
    # A short value, a bare key header as every PEM parser holds, "AKIA" inside a longer run of
    # capitals (libunistring's Unicode names).
    content = b"hunter2\0" + KEY_HEADER + b"\0\0-----END EC PRIVATE KEY-----\0" + b"ISAKIAISLANDISSHARITALIC"

    assert SecretScanner({"hunter2": "SHORT_PASSWORD"}).scan_bytes(content) == set()
