#!/usr/bin/env python3
"""The local platform's calls to the running moto_server, and the loopback port and wait it starts with (platform.sh,
and infra-gen's ledger test, which starts its own moto). moto reads the region from a request's credential scope and
checks no signature, so plain urllib requests do.

Standard library only: it runs with whatever python3 is on PATH, before any venv exists.

  emulator.py port                               print a free TCP port on 127.0.0.1
  emulator.py wait-http URL SECONDS              wait until URL answers any HTTP status
  emulator.py seed-ssm ENDPOINT REGION NAME VAL  create (or overwrite) one String SSM parameter in moto
  emulator.py seed-oidc ENDPOINT URL             create in moto the IAM OIDC provider for URL (kept if there)
  emulator.py objects ENDPOINT BUCKET            print "key<TAB>size" for every object in BUCKET
  emulator.py leftovers ENDPOINT REGION          print what moto still holds (buckets, live instances, DB
                                                 instances, queues, Auto Scaling groups); exit 1 when anything is left
  emulator.py queue-depth ENDPOINT REGION URL    print "visible<TAB>in flight" message counts of an SQS queue
"""

import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def die(msg):
    print(f"emulator: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, seconds):
    deadline = time.monotonic() + float(seconds)
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                die(f"{url} did not answer within {seconds}s")
            time.sleep(0.2)


def seed_ssm(endpoint, region, name, value):
    body = json.dumps({"Name": name, "Value": value, "Type": "String", "Overwrite": True}).encode()
    req = urllib.request.Request(
        endpoint.rstrip("/") + "/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.PutParameter",
            # moto takes the region from the credential scope and does not verify the signature.
            "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/{region}/ssm/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except urllib.error.HTTPError as err:
        die(f"seeding SSM parameter {name}: HTTP {err.code}: {err.read()[:200]!r}")


def seed_oidc(endpoint, url):
    """Creates the OIDC provider for url in moto; one that is already there is kept."""
    signed(endpoint, "us-east-1", "iam", {
        "Action": "CreateOpenIDConnectProvider",
        "Version": "2010-05-08",
        "Url": url,
        "ClientIDList.member.1": "sts.amazonaws.com",
        # Any 40 hex digits: moto checks none, and AWS no longer uses the thumbprint for GitHub.
        "ThumbprintList.member.1": "0" * 40,
    }, tolerate="EntityAlreadyExists")


def objects(endpoint, bucket):
    token = None
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    while True:
        url = f"{endpoint.rstrip('/')}/{bucket}?list-type=2"
        if token:
            url += "&continuation-token=" + urllib.request.quote(token, safe="")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                root = ET.fromstring(resp.read())
        except urllib.error.HTTPError as err:
            die(f"listing s3://{bucket}: HTTP {err.code}")
        for item in root.iter(f"{ns}Contents"):
            print(f"{item.findtext(f'{ns}Key')}\t{item.findtext(f'{ns}Size')}")
        token = root.findtext(f"{ns}NextContinuationToken")
        if not token:
            return


def signed(endpoint, region, service, data=None, path="/", tolerate=None):
    """One request to moto, which reads the region from the credential scope and checks no signature. An error
    whose body names the `tolerate` code returns None; any other error stops the run."""
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req = urllib.request.Request(endpoint.rstrip("/") + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return ET.fromstring(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        if tolerate and tolerate.encode() in body:
            return None
        die(f"{service} request to moto failed: HTTP {err.code}: {body[:200]!r}")


def local_names(root, tag):
    """Text of every element named tag, whatever its XML namespace."""
    return [el.text for el in root.iter() if el.tag.rsplit("}", 1)[-1] == tag]


def leftovers(endpoint, region):
    left = [f"s3 bucket {b}" for b in local_names(signed(endpoint, region, "s3"), "Name")]
    ec2 = signed(endpoint, region, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15"})
    for inst in ec2.iterfind(".//{*}instancesSet/{*}item"):
        state = inst.findtext("{*}instanceState/{*}name")
        if state not in ("terminated", "shutting-down"):
            left.append(f"ec2 instance {inst.findtext('{*}instanceId')} ({state})")
    rds = signed(endpoint, region, "rds", {"Action": "DescribeDBInstances", "Version": "2014-10-31"})
    left += [f"rds db instance {d}" for d in local_names(rds, "DBInstanceIdentifier")]
    sqs = signed(endpoint, region, "sqs", {"Action": "ListQueues", "Version": "2012-11-05"})
    left += [f"sqs queue {q}" for q in local_names(sqs, "QueueUrl")]
    asg = signed(endpoint, region, "autoscaling", {"Action": "DescribeAutoScalingGroups", "Version": "2011-01-01"})
    left += [f"auto scaling group {g}" for g in local_names(asg, "AutoScalingGroupName")]
    for line in left:
        print(line)
    sys.exit(1 if left else 0)


def queue_depth(endpoint, region, url):
    """Messages visible and in flight in the queue at URL (moto's query protocol, as the AWS CLI once spoke)."""
    path = urllib.parse.urlparse(url).path
    root = signed(endpoint, region, "sqs", {
        "Action": "GetQueueAttributes",
        "Version": "2012-11-05",
        "AttributeName.1": "ApproximateNumberOfMessages",
        "AttributeName.2": "ApproximateNumberOfMessagesNotVisible",
    }, path=path)
    attrs = {}
    for attr in root.iter():
        if attr.tag.rsplit("}", 1)[-1] == "Attribute":
            name = value = None
            for child in attr:
                tag = child.tag.rsplit("}", 1)[-1]
                if tag == "Name":
                    name = child.text
                elif tag == "Value":
                    value = child.text
            attrs[name] = value
    print(f"{attrs.get('ApproximateNumberOfMessages', '0')}\t{attrs.get('ApproximateNumberOfMessagesNotVisible', '0')}")


def main(argv):
    cmds = {
        "port": (0, lambda: print(free_port())),
        "wait-http": (2, wait_http),
        "seed-ssm": (4, seed_ssm),
        "seed-oidc": (2, seed_oidc),
        "objects": (2, objects),
        "leftovers": (2, leftovers),
        "queue-depth": (3, queue_depth),
    }
    if len(argv) < 2 or argv[1] not in cmds or cmds[argv[1]][0] != len(argv) - 2:
        die("usage: see the header of infra-gen/local/emulator.py")
    cmds[argv[1]][1](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
