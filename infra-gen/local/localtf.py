#!/usr/bin/env python3
"""The Terraform side of the local platform: the one override file that points a generated configuration at moto,
and the check that the e2e applied every resource type the configurations emit. It reads generated *.tf.json
files and terraform's JSON only; the calls to moto are emulator.py's.

Standard library only: it runs with whatever python3 is on PATH, before any venv exists.

  localtf.py override WORKDIR AMI_ID ENDPOINT   write WORKDIR/local_override.tf.json; print what moto must hold
                                                before terraform reads the configuration: "region<TAB>R", then
                                                "ssm<TAB>NAME<TAB>AMI_ID" per AMI parameter to seed and
                                                "oidc<TAB>URL<TAB>ADDRESS" per OIDC provider the configuration looks up
  localtf.py types-applied STATE.json GENDIR... print the managed resource types a GENDIR emits that STATE.json
                                                (terraform show -json) lacks; exit 1 when there are any
"""

import json
import pathlib
import sys

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
    """Writes WORKDIR's override file, then prints what moto must hold before terraform reads the configuration:
    "region<TAB>R" first, then "ssm<TAB>NAME<TAB>VALUE" and "oidc<TAB>URL<TAB>ADDRESS" lines."""
    docs = load_config(workdir)
    variables = {}
    for doc in docs:
        variables.update(doc.get("variable", {}))
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
        "provider": provider_override(docs, endpoint),
    }
    var_over, data_over, seeds = ami_overrides(docs, variables, ami_id)
    if var_over:
        out["variable"] = var_over
    data_over.update(policy_documents_without_tls_deny(docs))
    if data_over:
        out["data"] = data_over
    res = resource_overrides(docs)
    if res:
        out["resource"] = res

    path = pathlib.Path(workdir) / OVERRIDE
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"region\t{region_of(docs, variables)}")
    for name, value in sorted(seeds.items()):
        print(f"ssm\t{name}\t{value}")
    for url, address in oidc_lookups(docs):
        print(f"oidc\t{url}\t{address}")


def provider_override(docs, endpoint):
    """One override per generated aws provider block (same alias), so default_tags etc. are kept."""
    services = {"sts"}  # the provider asks STS for the account id (skip_requesting_account_id = false)
    for kind in ("resource", "data"):
        for rtype, _, _ in blocks(docs, kind):
            svc = service_of(rtype)
            if svc:
                services.add(svc)
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
    return {"aws": prov_overrides if len(prov_overrides) > 1 else prov_overrides[0]}


def ami_overrides(docs, variables, ami_id):
    """The Canonical Ubuntu AMI parameter: moto has neither Canonical's public parameters nor lets anyone create
    names under /aws/, so the variable (or the data source) points at a /local copy that platform.sh seeds.
    Returns the variable overrides, the data overrides and the {parameter name: AMI id} seeds."""
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
    data_over = {}
    for rtype, name, body in blocks(docs, "data"):
        ssm_name = str(body.get("name", ""))
        if rtype == "aws_ssm_parameter" and ssm_name.startswith("/aws/service/") and "ami" in ssm_name:
            seeds[local_ssm_name(body["name"])] = ami_id
            data_over.setdefault(rtype, {})[name] = {
                "//": "moto cannot hold /aws/service/... public parameters; platform.sh seeds this copy.",
                "name": local_ssm_name(body["name"]),
            }
    return var_over, data_over, seeds


def oidc_lookups(docs):
    """(url, data address) of every OIDC provider the configuration looks up. There is one per account, so a real
    account has it already; moto's empty account has none, so platform.sh creates it before terraform reads it."""
    return [
        (body["url"], f"data.{rtype}.{name}")
        for rtype, name, body in blocks(docs, "data")
        if rtype == "aws_iam_openid_connect_provider" and body.get("url")
    ]


def emulator_settings(rtype, body):
    """What moto needs changed on one generated resource, each with its reason; None when nothing."""
    if rtype == "aws_s3_bucket":
        return {
            "//": "moto writes real access-log objects into the log bucket and keeps object versions; "
            "destroy must empty the buckets, which a real deployment deliberately refuses to do.",
            "force_destroy": True,
        }
    if rtype == "aws_instance" and body.get("monitoring"):
        return {
            "//": "Detailed monitoring calls ec2:MonitorInstances, which moto does not implement.",
            "monitoring": False,
        }
    if rtype == "aws_db_instance":
        return {
            "//": "moto honours deletion protection and would keep a final snapshot, so a local destroy "
            "turns both off. moto does not read back Performance Insights and enhanced-monitoring "
            "settings, so those are ignored after create (they are still sent).",
            "deletion_protection": False,
            "skip_final_snapshot": True,
            "lifecycle": {"ignore_changes": ignore(body, RDS_NOT_READ_BACK)},
        }
    if rtype == "aws_db_parameter_group":
        return {
            "//": "moto stores the parameters but never reads them back as set, so every plan would "
            "show them changing.",
            "lifecycle": {"ignore_changes": ignore(body, ["parameter"])},
        }
    if rtype == "aws_sqs_queue" and body.get("redrive_policy"):
        return {
            "//": "moto returns the redrive policy JSON re-serialized with spaces after ':' and ',' (AWS returns "
            "it compact, as generated), which the provider reports as a change on every plan.",
            "lifecycle": {"ignore_changes": ignore(body, ["redrive_policy"])},
        }
    if rtype == "aws_sqs_queue" and body.get("redrive_allow_policy"):
        return {
            "//": "moto accepts RedriveAllowPolicy but leaves it out of GetQueueAttributes (AWS returns it), so "
            "the provider's create waiter, which waits until the attributes read back as sent, times out after "
            "3 minutes. The local run does not send it; the snapshots and the IAM lint check the generated one.",
            "redrive_allow_policy": None,
        }
    if rtype == "aws_autoscaling_group":
        return {
            "//": "moto's Auto Scaling does not store DefaultInstanceWarmup and reads it back as 0.",
            "lifecycle": {"ignore_changes": ignore(body, ["default_instance_warmup"])},
        }
    if rtype == "aws_autoscaling_policy":
        return {
            "//": "moto reads a target-tracking policy back as disabled (Enabled false) with an empty "
            "predictive-scaling block that the policy never had.",
            "lifecycle": {"ignore_changes": ignore(body, ["enabled", "predictive_scaling_configuration"])},
        }
    if rtype == "aws_launch_template":
        return {
            "//": "moto adds a tag specification for the launch template itself (with the provider's default "
            "tags) to what it reads back, which the configuration never declares.",
            "lifecycle": {"ignore_changes": ignore(body, ["tag_specifications"])},
        }
    if rtype.startswith("aws_vpc_security_group_") and "referenced_security_group_id" in body:
        return {
            "//": "moto does not read back the description of a rule that references another group, so "
            "every plan would show it changing; it is still sent on create.",
            "lifecycle": {"ignore_changes": ignore(body, ["description"])},
        }
    if rtype == "aws_cloudwatch_log_group" and body.get("skip_destroy"):
        return {
            "//": "A local destroy must leave nothing behind in the emulator.",
            "skip_destroy": False,
        }
    return None


def resource_overrides(docs):
    """{type: {name: settings}} for every resource moto needs changed, the logging order included."""
    res = {}
    for rtype, name, body in blocks(docs, "resource"):
        settings = emulator_settings(rtype, body)
        if settings:
            res.setdefault(rtype, {}).setdefault(name, {}).update(settings)
    for rtype, name, settings in logging_after_policy(docs):
        res.setdefault(rtype, {}).setdefault(name, {}).update(settings)
    return res


def policy_documents_without_tls_deny(docs):
    """moto cannot tell TLS from plain HTTP (it serves plain HTTP on loopback): it treats the aws:SecureTransport
    condition of a bucket policy's deny-insecure-transport statement as met, so that statement would deny every
    object request, TLS or not. Locally those statements are dropped from the policy documents that bucket policies
    use; the real deployment keeps them. A policy left empty gets an allow for moto's account root, which grants
    nothing IAM does not already grant. Returns the data overrides ({} or {"aws_iam_policy_document": ...})."""
    over = {}
    documents = {name: body for rtype, name, body in blocks(docs, "data") if rtype == "aws_iam_policy_document"}
    for rtype, _, body in blocks(docs, "resource"):
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
        over.setdefault("aws_iam_policy_document", {})[doc_name] = {
            "//": "moto evaluates aws:SecureTransport as true for every request, so the deny-insecure-transport "
            "statement would block all object access; it is dropped locally only (moto is plain HTTP on "
            "loopback). Other statements stay as generated.",
            "statement": keep,
        }
    return over


def logging_after_policy(docs):
    """Server access logging is accepted only once the target bucket's policy lets the logging service write (moto
    checks it at PutBucketLogging; on AWS logs would be lost in between). Terraform cannot see that ordering; the
    generator should emit it (depends_on). An override may not touch depends_on, so until then the override names
    the target bucket through the policy resource: the same value, plus the ordering. Yields (type, name, settings)."""
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
            yield rtype, name, {
                "//": "Logging may be switched on only after the target bucket policy allows the logging service "
                "(moto refuses PutBucketLogging before that). Same bucket name, read through the policy to get "
                "the ordering; the generated configuration should carry it as depends_on.",
                "target_bucket": f"${{aws_s3_bucket_policy.{policy}.bucket}}",
            }


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


def main(argv):
    cmds = {
        "override": (3, override),
        "types-applied": (None, types_applied),
    }
    if len(argv) < 2 or argv[1] not in cmds or cmds[argv[1]][0] not in (None, len(argv) - 2):
        die("usage: see the header of infra-gen/local/localtf.py")
    cmds[argv[1]][1](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
