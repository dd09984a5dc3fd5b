"""What every process of the stack needs to talk to its S3 store, and nothing heavier.

dagster-aws would do, but importing anything from it costs about 2.4 s (its package init loads
its Components), which every run worker would pay. boto3 alone is enough for what we do.
"""

from stack_s3.client import S3, is_missing
from stack_s3.listing import iter_objects
from stack_s3.storage import derived_key

__all__ = ["S3", "derived_key", "is_missing", "iter_objects"]
