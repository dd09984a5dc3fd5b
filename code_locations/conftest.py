"""Fixtures every location's tests share: a real S3 server and the environment the code reads."""

from tests.harness.s3_fixtures import *  # noqa: F403
