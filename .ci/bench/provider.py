#!/usr/bin/env python3
"""The provider's side of `make bench`, at the local EC2 endpoint.

Acts in an account as the console does (STS AssumeRole into its
StratusConsole role, from the console's own credentials in the
environment), and times the provider's own answer: a signed HTTP request
read to its last byte, without any SDK parsing it.

usage: provider.py ENDPOINT register ACCOUNT N   registers images in ACCOUNT until it has N
       provider.py ENDPOINT own ACCOUNT          ms of DescribeImages(Owner=self), median of 3
       provider.py ENDPOINT search TERM          ms of the public DescribeImages for names
                                                 containing TERM, median of 3 after one untimed
                                                 (the endpoint builds its catalog on first use)
Each prints the milliseconds, then the answer's bytes and images.
"""
import statistics
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"


def credentials(endpoint, account):
    """The credentials of the console's role in ACCOUNT (None: its own)."""
    if account is None:
        own = boto3.session.Session().get_credentials()
        return Credentials(own.access_key, own.secret_key, own.token)
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION)
    got = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/StratusConsole", RoleSessionName="bench")["Credentials"]
    return Credentials(got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"])


def timed_call(endpoint, creds, params):
    """Milliseconds from sending the signed query to its answer's last byte,
    the answer's bytes, and the images in it."""
    body = urllib.parse.urlencode({"Action": "DescribeImages", "Version": "2016-11-15", **params})
    request = AWSRequest(method="POST", url=endpoint, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, "ec2", REGION).add_auth(request)
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(endpoint, data=body.encode(), headers=dict(request.headers))) as answer:
        body = answer.read()
    return (time.perf_counter() - start) * 1000, len(body), body.count(b"<imageId>")


def register(endpoint, account, wanted):
    creds = credentials(endpoint, account)
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=creds.access_key,
                       aws_secret_access_key=creds.secret_key, aws_session_token=creds.token)
    have = len(ec2.describe_images(Owners=["self"])["Images"])

    def one(n):
        ec2.register_image(Name=f"bench-image-{n:05d}", Description="Registered by make bench",
                           Architecture="x86_64" if n % 3 else "arm64", RootDeviceName="/dev/xvda",
                           BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(have, wanted)))


def report(calls):
    """The median time of CALLS, and the first answer's bytes and images."""
    _, size, images = calls[0]
    print(f"{statistics.median(t for t, _, _ in calls):.1f} {size} {images}")


def main(endpoint, command, *args):
    if command == "register":
        register(endpoint, args[0], int(args[1]))
    elif command == "own":
        creds = credentials(endpoint, args[0])
        report([timed_call(endpoint, creds, {"Owner.1": "self"}) for _ in range(3)])
    elif command == "search":
        creds = credentials(endpoint, None)
        params = {"ExecutableBy.1": "all", "Filter.1.Name": "name", "Filter.1.Value.1": f"*{args[0]}*"}
        timed_call(endpoint, creds, params)
        report([timed_call(endpoint, creds, params) for _ in range(3)])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
