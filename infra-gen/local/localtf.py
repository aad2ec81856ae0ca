#!/usr/bin/env python3
"""Helpers for platform.sh that are easier to get right with a JSON parser than with bash.

Standard library only: it runs with whatever python3 is on PATH, before any venv exists.

  localtf.py port                               print a free TCP port on 127.0.0.1
  localtf.py wait-http URL SECONDS              wait until URL answers any HTTP status
  localtf.py override WORKDIR AMI_ID ENDPOINT   write WORKDIR/local_override.tf.json; print "region<TAB>name<TAB>ami"
                                                lines for the SSM parameters the local run must seed; creates
                                                in moto the GitHub OIDC provider a configuration looks up
  localtf.py seed-ssm ENDPOINT REGION NAME VAL  create (or overwrite) one String SSM parameter in moto
  localtf.py objects ENDPOINT BUCKET            print "key<TAB>size" for every object in BUCKET
  localtf.py leftovers ENDPOINT REGION          print what moto still holds (buckets, live instances, DB
                                                instances, queues, Auto Scaling groups); exit 1 when anything is left
  localtf.py queue-depth ENDPOINT REGION URL    print "visible<TAB>in flight" message counts of an SQS queue
  localtf.py types-applied STATE.json GENDIR... print the managed resource types a GENDIR emits that STATE.json
                                                (terraform show -json) lacks; exit 1 when there are any
  localtf.py spec-table SPEC.toml               print the target table named by a dataset spec
  localtf.py etl-summary LOG                    print the last ingest and process summaries of an etl JSON log
"""

import json
import pathlib
import socket
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

OVERRIDE = "local_override.tf.json"

# Terraform resource/data type prefix -> provider `endpoints` key. Longest prefix wins. A type that matches
# nothing stops the run: an unmapped service would silently go to real AWS with fake keys.
SERVICES = {
    "aws_acm": "acm",
    "aws_ami": "ec2",
    "aws_autoscaling": "autoscaling",
    "aws_availability_zones": "ec2",
    "aws_caller_identity": "sts",
    "aws_cloudtrail": "cloudtrail",
    "aws_cloudwatch_dashboard": "cloudwatch",
    "aws_cloudwatch_event": "events",
    "aws_cloudwatch_log": "logs",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_cloudwatch_composite_alarm": "cloudwatch",
    "aws_db": "rds",
    "aws_default_": "ec2",
    "aws_dynamodb": "dynamodb",
    "aws_ebs": "ec2",
    "aws_ec2": "ec2",
    "aws_ecr": "ecr",
    "aws_ecs": "ecs",
    "aws_eip": "ec2",
    "aws_flow_log": "ec2",
    "aws_iam": "iam",
    "aws_instance": "ec2",
    "aws_internet_gateway": "ec2",
    "aws_key_pair": "ec2",
    "aws_kms": "kms",
    "aws_lambda": "lambda",
    "aws_launch_template": "ec2",
    "aws_lb": "elbv2",
    "aws_main_route_table": "ec2",
    "aws_nat_gateway": "ec2",
    "aws_network": "ec2",
    "aws_rds": "rds",
    "aws_route53": "route53",
    "aws_route": "ec2",
    "aws_s3": "s3",
    "aws_secretsmanager": "secretsmanager",
    "aws_security_group": "ec2",
    "aws_sns": "sns",
    "aws_sqs": "sqs",
    "aws_ssm": "ssm",
    "aws_subnet": "ec2",
    "aws_vpc": "ec2",
}
# Types that never call an API (rendered locally by the provider).
NO_API = ("aws_iam_policy_document", "aws_partition", "aws_region", "aws_arn")

# Performance Insights and enhanced monitoring are accepted by moto's RDS but not read back, so every plan
# would show them as changes; the parameter group's parameters are stored but never match on read.
RDS_NOT_READ_BACK = [
    "performance_insights_enabled",
    "performance_insights_kms_key_id",
    "performance_insights_retention_period",
    "monitoring_interval",
    "monitoring_role_arn",
]


def die(msg):
    print(f"localtf: {msg}", file=sys.stderr)
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


def as_list(value):
    return value if isinstance(value, list) else [value]


def load_config(workdir):
    """All generated *.tf.json documents in workdir (our own override excluded)."""
    docs = []
    for path in sorted(pathlib.Path(workdir).glob("*.tf.json")):
        if path.name == OVERRIDE:
            continue
        try:
            docs.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as err:
            die(f"{path}: line {err.lineno}: {err.msg}")
    if not docs:
        die(f"no *.tf.json in {workdir}: run `infra-gen gen` first")
    return docs


def blocks(docs, kind):
    """Yield (type, name, body) for every resource or data block."""
    for doc in docs:
        for rtype, by_name in doc.get(kind, {}).items():
            for name, body in by_name.items():
                for item in as_list(body):
                    yield rtype, name, item


def service_of(rtype):
    if rtype.startswith(NO_API):
        return None
    best = max((p for p in SERVICES if rtype.startswith(p)), key=len, default=None)
    if best is None:
        die(f"no moto endpoint known for {rtype}: add its service to SERVICES in infra-gen/local/localtf.py")
    return SERVICES[best]


def var_name(expr):
    """'${var.x}' -> 'x', anything else -> None."""
    if isinstance(expr, str) and expr.startswith("${var.") and expr.endswith("}"):
        return expr[len("${var.") : -1]
    return None


def region_of(docs, variables):
    for doc in docs:
        for prov in as_list(doc.get("provider", {}).get("aws", {})):
            region = prov.get("region")
            name = var_name(region)
            if name:
                region = variables.get(name, {}).get("default")
            if region:
                return region
    return "us-east-1"


def ignore(body, extra):
    """Union of the generated ignore_changes and ours: an override's lifecycle argument replaces the original."""
    have = body.get("lifecycle", {}).get("ignore_changes", [])
    if have == "all":
        return "all"
    return sorted(set(have) | set(extra))


def is_secure_transport_deny(statement):
    return statement.get("effect") == "Deny" and any(
        cond.get("variable") == "aws:SecureTransport" for cond in as_list(statement.get("condition", []))
    )


def local_ssm_name(name):
    """moto refuses to create parameters under /aws/, so the local run seeds the same path under /local."""
    return "/local" + name


def override(workdir, ami_id, endpoint):
    docs = load_config(workdir)
    variables = {}
    for doc in docs:
        variables.update(doc.get("variable", {}))
    region = region_of(docs, variables)

    services = {"sts"}  # the provider asks STS for the account id (skip_requesting_account_id = false)
    for kind in ("resource", "data"):
        for rtype, _, _ in blocks(docs, kind):
            svc = service_of(rtype)
            if svc:
                services.add(svc)

    out = {
        "//": (
            "Local run only (infra-gen/local/platform.sh writes this file into a copy of out/): points the "
            "production configuration at the moto emulator and turns off what moto cannot emulate. "
            "Terraform merges *_override.tf.json over the generated files; out/ itself is never changed."
        ),
        "terraform": {
            "backend": {
                "local": {
                    "//": "State stays in the local work dir; the S3 backend of a real deployment is not used.",
                    "path": "terraform.tfstate",
                }
            }
        },
    }

    # Provider: one override per generated aws provider block (same alias), so default_tags etc. are kept.
    providers = []
    for doc in docs:
        providers.extend(as_list(doc.get("provider", {}).get("aws", [])))
    if not providers:
        providers = [{}]
    prov_overrides = []
    for prov in providers:
        entry = {
            "//": (
                "moto endpoint for every service the configuration uses, fake keys moto accepts, path-style S3 "
                "(a bucket name cannot resolve as a subdomain of 127.0.0.1), no credential/metadata lookups, and "
                "max_retries 1 because moto answers unimplemented calls with HTTP 500 which the provider would "
                "otherwise retry for 10-16 minutes. The account id is requested from moto's STS (the provider's "
                "default, stated here because the setting belongs to the emulator run, not to out/): moto "
                "returns a referenced security group as <account>/<group id>, which the provider can only "
                "match to the configured group id when it knows the account. default_tags are kept."
            ),
            "access_key": "test",
            "secret_key": "test",
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            "skip_requesting_account_id": False,
            "s3_use_path_style": True,
            "max_retries": 1,
            "endpoints": {svc: endpoint for svc in sorted(services)},
        }
        if "alias" in prov:
            entry["alias"] = prov["alias"]
        prov_overrides.append(entry)
    out["provider"] = {"aws": prov_overrides if len(prov_overrides) > 1 else prov_overrides[0]}

    # The Canonical Ubuntu AMI parameter: moto has neither Canonical's public parameters nor lets anyone create
    # names under /aws/, so point the variable (or the data source) at a /local copy that platform.sh seeds.
    seeds = {}
    var_over = {}
    for name, body in variables.items():
        default = body.get("default")
        if isinstance(default, str) and default.startswith("/aws/service/") and "ami" in default:
            seeds[local_ssm_name(default)] = ami_id
            var_over[name] = {
                "//": "moto cannot hold /aws/service/... public parameters; platform.sh seeds this copy with "
                "the id of the stand-in Ubuntu 24.04 AMI it gives moto (MOTO_AMIS_PATH).",
                "default": local_ssm_name(default),
            }
    if var_over:
        out["variable"] = var_over
    data_over = out.setdefault("data", {})
    for rtype, name, body in blocks(docs, "data"):
        ssm_name = str(body.get("name", ""))
        if rtype == "aws_ssm_parameter" and ssm_name.startswith("/aws/service/") and "ami" in ssm_name:
            seeds[local_ssm_name(body["name"])] = ami_id
            data_over.setdefault(rtype, {})[name] = {
                "//": "moto cannot hold /aws/service/... public parameters; platform.sh seeds this copy.",
                "name": local_ssm_name(body["name"]),
            }
    # A configuration that looks GitHub's OIDC provider up expects the account to have one already (there is one
    # per account). moto's empty account has none, so the local run creates it before terraform reads it.
    for rtype, name, body in blocks(docs, "data"):
        if rtype == "aws_iam_openid_connect_provider" and body.get("url"):
            seed_oidc(endpoint, body["url"])
            print(f"  seeded IAM OIDC provider {body['url']} in moto (data.{rtype}.{name} looks it up)", file=sys.stderr)
    res = {}

    def put(rtype, name, values):
        res.setdefault(rtype, {}).setdefault(name, {}).update(values)

    for rtype, name, body in blocks(docs, "resource"):
        if rtype == "aws_s3_bucket":
            put(rtype, name, {
                "//": "moto writes real access-log objects into the log bucket and keeps object versions; "
                "destroy must empty the buckets, which a real deployment deliberately refuses to do.",
                "force_destroy": True,
            })
        elif rtype == "aws_instance" and body.get("monitoring"):
            put(rtype, name, {
                "//": "Detailed monitoring calls ec2:MonitorInstances, which moto does not implement.",
                "monitoring": False,
            })
        elif rtype == "aws_db_instance":
            put(rtype, name, {
                "//": "moto honours deletion protection and would keep a final snapshot, so a local destroy "
                "turns both off. moto does not read back Performance Insights and enhanced-monitoring "
                "settings, so those are ignored after create (they are still sent).",
                "deletion_protection": False,
                "skip_final_snapshot": True,
                "lifecycle": {"ignore_changes": ignore(body, RDS_NOT_READ_BACK)},
            })
        elif rtype == "aws_db_parameter_group":
            put(rtype, name, {
                "//": "moto stores the parameters but never reads them back as set, so every plan would "
                "show them changing.",
                "lifecycle": {"ignore_changes": ignore(body, ["parameter"])},
            })
        elif rtype == "aws_sqs_queue" and body.get("redrive_policy"):
            put(rtype, name, {
                "//": "moto returns the redrive policy JSON re-serialized with spaces after ':' and ',' (AWS returns "
                "it compact, as generated), which the provider reports as a change on every plan.",
                "lifecycle": {"ignore_changes": ignore(body, ["redrive_policy"])},
            })
        elif rtype == "aws_autoscaling_group":
            put(rtype, name, {
                "//": "moto's Auto Scaling does not store DefaultInstanceWarmup and reads it back as 0.",
                "lifecycle": {"ignore_changes": ignore(body, ["default_instance_warmup"])},
            })
        elif rtype == "aws_autoscaling_policy":
            put(rtype, name, {
                "//": "moto reads a target-tracking policy back as disabled (Enabled false) with an empty "
                "predictive-scaling block that the policy never had.",
                "lifecycle": {"ignore_changes": ignore(body, ["enabled", "predictive_scaling_configuration"])},
            })
        elif rtype == "aws_launch_template":
            put(rtype, name, {
                "//": "moto adds a tag specification for the launch template itself (with the provider's default "
                "tags) to what it reads back, which the configuration never declares.",
                "lifecycle": {"ignore_changes": ignore(body, ["tag_specifications"])},
            })
        elif rtype.startswith("aws_vpc_security_group_") and "referenced_security_group_id" in body:
            put(rtype, name, {
                "//": "moto does not read back the description of a rule that references another group, so "
                "every plan would show it changing; it is still sent on create.",
                "lifecycle": {"ignore_changes": ignore(body, ["description"])},
            })
        elif rtype == "aws_cloudwatch_log_group" and body.get("skip_destroy"):
            put(rtype, name, {
                "//": "A local destroy must leave nothing behind in the emulator.",
                "skip_destroy": False,
            })
    # moto cannot tell TLS from plain HTTP (it serves plain HTTP on loopback): it treats the aws:SecureTransport
    # condition of a bucket policy's deny-insecure-transport statement as met, so that statement would deny
    # every object request, TLS or not. Locally those statements are dropped from the policy documents that
    # bucket policies use; the real deployment keeps them. A policy left empty gets an allow for moto's account
    # root, which grants nothing IAM does not already grant.
    data_over = out.setdefault("data", {})
    documents = {name: body for rtype, name, body in blocks(docs, "data") if rtype == "aws_iam_policy_document"}
    for rtype, name, body in blocks(docs, "resource"):
        if rtype != "aws_s3_bucket_policy":
            continue
        doc_name = str(body.get("policy", "")).removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
        statements = as_list(documents.get(doc_name, {}).get("statement", []))
        keep = [st for st in statements if not is_secure_transport_deny(st)]
        if len(keep) == len(statements):
            continue
        if not keep:
            keep = [{
                "sid": "LocalAccountRoot",
                "effect": "Allow",
                "actions": ["s3:*"],
                "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}],
                "resources": as_list(statements[0].get("resources", [])),
            }]
        data_over.setdefault("aws_iam_policy_document", {})[doc_name] = {
            "//": "moto evaluates aws:SecureTransport as true for every request, so the deny-insecure-transport "
            "statement would block all object access; it is dropped locally only (moto is plain HTTP on "
            "loopback). Other statements stay as generated.",
            "statement": keep,
        }
    if not data_over:
        del out["data"]

    # Server access logging is accepted only once the target bucket's policy lets the logging service write
    # (moto checks it at PutBucketLogging; on AWS logs would be lost in between). Terraform cannot see that
    # ordering; the generator should emit it (depends_on). An override may not touch depends_on, so until then
    # the override names the target bucket through the policy resource: the same value, plus the ordering.
    policy_of = {}
    for rtype, name, body in blocks(docs, "resource"):
        if rtype == "aws_s3_bucket_policy":
            policy_of[body.get("bucket")] = name
    for rtype, name, body in blocks(docs, "resource"):
        if rtype != "aws_s3_bucket_logging":
            continue
        policy = policy_of.get(body.get("target_bucket"))
        if policy and f"aws_s3_bucket_policy.{policy}" not in body.get("depends_on", []):
            print(
                f"localtf: note: {rtype}.{name} lacks depends_on aws_s3_bucket_policy.{policy} in the generated "
                "configuration; the local override orders it (generator fix reported)",
                file=sys.stderr,
            )
            put(rtype, name, {
                "//": "Logging may be switched on only after the target bucket policy allows the logging service "
                "(moto refuses PutBucketLogging before that). Same bucket name, read through the policy to get "
                "the ordering; the generated configuration should carry it as depends_on.",
                "target_bucket": f"${{aws_s3_bucket_policy.{policy}.bucket}}",
            })
    if res:
        out["resource"] = res

    path = pathlib.Path(workdir) / OVERRIDE
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, value in sorted(seeds.items()):
        print(f"{region}\t{name}\t{value}")
    if not seeds:
        print(f"{region}\t-\t-")


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


def types_applied(state_json, *gen_dirs):
    """Managed resource types emitted in any generated dir but absent from `terraform show -json` of the applied
    state: one line each with the configurations emitting it, exit 1; else one summary line."""
    emitted = {}
    for gen_dir in gen_dirs:
        for rtype, _, _ in blocks(load_config(gen_dir), "resource"):
            emitted.setdefault(rtype, set()).add(pathlib.Path(gen_dir).name)
    with open(state_json, encoding="utf-8") as f:
        state = json.load(f)
    applied = set()
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        applied.update(r["type"] for r in module.get("resources", []) if r.get("mode") == "managed")
        modules.extend(module.get("child_modules", []))
    missing = sorted(set(emitted) - applied)
    for rtype in missing:
        print(f"{rtype} (emitted by {', '.join(sorted(emitted[rtype]))}) is not in the applied state")
    if missing:
        sys.exit(1)
    print(f"all {len(emitted)} resource types that {len(gen_dirs)} configurations emit were applied")


def etl_summary(log):
    """The last ingest and process summaries in an etl JSON log, as one line each."""
    ingest = process = None
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "uploaded" in rec and "skipped" in rec:
                ingest = rec
            elif "loaded" in rec and "rejected" in rec and "failed" in rec:
                process = rec
    if ingest:
        print(f"etl ingest: {ingest['uploaded']} uploaded, {ingest['skipped']} unchanged (skipped)")
    if process:
        print(
            f"etl process: {process['loaded']} objects loaded ({process.get('rows', '?')} rows, "
            f"{process['rejected']} rejected), {process.get('skipped', '?')} already loaded, {process['failed']} failed"
        )


def spec_table(spec):
    with open(spec, "rb") as f:
        doc = tomllib.load(f)
    print(doc.get("table") or doc["name"])


def main(argv):
    cmds = {
        "port": (0, lambda: print(free_port())),
        "wait-http": (2, wait_http),
        "override": (3, override),
        "seed-ssm": (4, seed_ssm),
        "objects": (2, objects),
        "leftovers": (2, leftovers),
        "queue-depth": (3, queue_depth),
        "spec-table": (1, spec_table),
        "types-applied": (None, types_applied),
        "etl-summary": (1, etl_summary),
    }
    if len(argv) < 2 or argv[1] not in cmds or cmds[argv[1]][0] not in (None, len(argv) - 2):
        die("usage: see the header of infra-gen/local/localtf.py")
    cmds[argv[1]][1](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
