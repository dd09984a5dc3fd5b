"""Fixtures of the stack-level unit tests: a real S3 server and the environment the code reads."""

from tests.harness.s3_fixtures import *  # noqa: F403
