"""Local S3 and GCS endpoints for laptops and demos (`make objectstores`): moto's S3 server and gcp-storage-emulator
on 127.0.0.1, each with a bucket, in the foreground until Ctrl-C. Prints the environment a shell needs to point the
lake at them (the same variables point the code at real S3 / GCS when they are unset).
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--s3-port", type=int, default=9000)
    parser.add_argument("--gcs-port", type=int, default=9023)
    parser.add_argument("--bucket", default="shoplake")
    args = parser.parse_args(argv)

    import boto3
    from gcp_storage_emulator.server import create_server
    from moto.server import ThreadedMotoServer

    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=args.s3_port, verbose=False)
    s3.start()
    boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{args.s3_port}", aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    ).create_bucket(Bucket=args.bucket)  # fmt: skip
    gcs = create_server("127.0.0.1", args.gcs_port, in_memory=True, default_bucket=args.bucket)
    gcs.start()
    sys.stdout.write(
        f"S3 (moto) on 127.0.0.1:{args.s3_port}, GCS (gcp-storage-emulator) on 127.0.0.1:{args.gcs_port}, bucket "
        f"{args.bucket!r} in both (in memory: gone when this stops). In another shell:\n"
        f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{args.s3_port} AWS_ACCESS_KEY_ID=testing "
        "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
        f"  export STORAGE_EMULATOR_HOST=http://127.0.0.1:{args.gcs_port} GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false\n"
        f"  export SHOPLAKE_LAKE_ROOT=s3://{args.bucket}/lake SHOPLAKE_RESULTS_ROOT=gs://{args.bucket}/results\n"
        "Ctrl-C stops both.\n"
    )
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        gcs.stop()
        s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
