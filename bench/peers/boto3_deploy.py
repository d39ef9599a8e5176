"""The boto3 peer: the AWS CLI sequence, made from one Python process.

    python boto3_deploy.py update FUNCTION ZIP BUCKET KEY
    python boto3_deploy.py create FUNCTION ZIP BUCKET KEY ROLE RUNTIME HANDLER

`update`: upload, UpdateFunctionCode, wait for function-updated-v2, PublishVersion, UpdateAlias
`live` (what a hand-written deploy script does). `create`: upload, CreateFunction, wait for
function-active-v2, PublishVersion, CreateAlias `live`, CreateFunctionUrlConfig on it, and the
two public-URL permissions. The endpoint, region and keys come from the AWS_* environment.
Prints one JSON line: the version now live and the seconds spent inside this process after the
imports, so the bench can tell interpreter start-up from the calls.
"""

import json
import sys
import time

T0 = time.perf_counter()
import boto3  # noqa: E402  (timed: importing boto3 is part of what this peer costs)

T_IMPORT = time.perf_counter()


def main():
    mode, function, zip_path, bucket, key = sys.argv[1:6]
    s3 = boto3.client("s3")
    lam = boto3.client("lambda")
    # upload_file is what `aws s3 cp` does too (managed transfer, multipart above 8 MB).
    s3.upload_file(zip_path, bucket, key)
    if mode == "update":
        lam.update_function_code(FunctionName=function, S3Bucket=bucket, S3Key=key)
        lam.get_waiter("function_updated_v2").wait(FunctionName=function)
        version = lam.publish_version(FunctionName=function)["Version"]
        lam.update_alias(FunctionName=function, Name="live", FunctionVersion=version)
    elif mode == "create":
        role, runtime, handler = sys.argv[6:9]
        lam.create_function(
            FunctionName=function,
            Role=role,
            Runtime=runtime,
            Handler=handler,
            Code={"S3Bucket": bucket, "S3Key": key},
            Architectures=["arm64"],
            MemorySize=512,
            Timeout=30,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=function)
        version = lam.publish_version(FunctionName=function)["Version"]
        lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
        lam.create_function_url_config(FunctionName=function, Qualifier="live", AuthType="NONE")
        lam.add_permission(
            FunctionName=function,
            Qualifier="live",
            StatementId="FunctionURLAllowPublicAccess",
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
        lam.add_permission(
            FunctionName=function,
            Qualifier="live",
            StatementId="FunctionURLInvokeAllowPublicAccess",
            Action="lambda:InvokeFunction",
            Principal="*",
            InvokedViaFunctionUrl=True,
        )
    else:
        sys.exit(f"unknown mode {mode!r}")
    done = time.perf_counter()
    print(
        json.dumps(
            {"version": version, "import_s": T_IMPORT - T0, "calls_s": done - T_IMPORT}
        )
    )


if __name__ == "__main__":
    main()
