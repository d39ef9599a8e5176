"""moto's server for the bench, with one fix: Lambda never reuses a version number.

moto 5.2.1 numbers a new version `len(versions) + 1`. Once a version has been deleted (deploy-action
prunes beyond --keep-versions), the next PublishVersion gets the number of a version that still
exists, and `live` moved to that number resolves to the old code. Real Lambda numbers versions
past the highest ever published. This wrapper renumbers a newly published version to one past the
highest existing one. And S3's CompleteMultipartUpload answer is rooted at
<CompleteMultipartUploadResult> (S3 API reference, "Response Syntax"); moto names it
...Response, which the Rust SDK rejects (tests/support/fault_proxy.py fixes the same for the
tests). Everything else is moto as it is. Same arguments as `python -m moto.server`.
"""

import sys

from moto.awslambda.models import LambdaStorage
from moto.server import main

_publish_version = LambdaStorage.publish_version


def _publish_version_without_reuse(self, name_or_arn, description=""):
    try:
        name = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn).function_name
        versions = self._functions[name]["versions"]
    except Exception:  # moto answers unknown functions itself
        return _publish_version(self, name_or_arn, description)
    before = len(versions)
    highest = max((int(v.version) for v in versions), default=0)
    fn = _publish_version(self, name_or_arn, description)
    if fn is not None and len(versions) > before and int(fn.version) <= highest:
        self._arns.pop(fn.function_arn, None)
        fn.set_version(highest + 1)
        self._arns[fn.function_arn] = fn
    return fn


LambdaStorage.publish_version = _publish_version_without_reuse

from moto.s3.responses import S3Response  # noqa: E402

_serialized = S3Response.serialized


def _serialized_with_s3_root(self, *args, **kwargs):
    status, headers, body = _serialized(self, *args, **kwargs)
    if self.data.get("Action") == "CompleteMultipartUpload" and isinstance(body, (str, bytes)):
        old, new = "CompleteMultipartUploadResponse", "CompleteMultipartUploadResult"
        body = body.replace(old, new) if isinstance(body, str) else body.replace(old.encode(), new.encode())
    return status, headers, body


S3Response.serialized = _serialized_with_s3_root

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
