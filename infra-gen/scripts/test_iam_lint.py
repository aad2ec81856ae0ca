"""Tests of iam_lint.py on a small hand-written plan: a document deferred to apply is rendered with a placeholder
ARN of the right shape, the resource-type check fires where IAM's reference says an action takes only "*", and
suppressions hide exactly what they name and fail when stale."""

import contextlib
import io
import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import iam_lint  # noqa: E402 - the script beside this file, not an installed package

READ = [
    ("data.aws_partition.current", {"partition": "aws"}),
    ("data.aws_region.current", {"name": "eu-west-1"}),
    ("data.aws_caller_identity.current", {"account_id": "111122223333"}),
]


def plan_dir(root):
    """A configuration whose one managed policy is known only after apply (it names a topic to be created)."""
    path = pathlib.Path(root) / "demo"
    path.mkdir()
    statement = {
        "sid": {"constant_value": "Alarms"},
        "effect": {"constant_value": "Allow"},
        "actions": {"constant_value": ["sns:Publish", "sns:Unsubscribe"]},
        "resources": {"constant_value": ["${aws_sns_topic.alarms.arn}"]},
    }
    plan = {
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy", "values": {"name": "p"}},
            {"address": "aws_sns_topic.alarms", "mode": "managed", "type": "aws_sns_topic",
             "values": {"name": "demo-alarms"}},
            {"address": "aws_s3_bucket_public_access_block.b", "mode": "managed",
             "type": "aws_s3_bucket_public_access_block", "values": {"block_public_policy": True}},
        ]}},
        "prior_state": {"values": {"root_module": {"resources": [
            {"address": address, "mode": "data", "values": values} for address, values in READ
        ]}}},
        "configuration": {"root_module": {"resources": [
            {"address": "aws_iam_policy.p",
             "expressions": {"policy": {"constant_value": "${data.aws_iam_policy_document.p.json}"}}},
            {"address": "data.aws_iam_policy_document.p", "expressions": {"statement": [statement]}},
        ]}},
    }
    (path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return path


def run(dirs, suppressions):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        problems = iam_lint.lint(dirs, suppressions)
    return problems, out.getvalue()


class IamLintTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = plan_dir(self.tmp.name)
        self.suppressions = pathlib.Path(self.tmp.name) / "s.toml"
        self.suppressions.write_text("", encoding="utf-8")

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_deferred_document_gets_a_placeholder_arn_of_the_resource_shape(self):
        docs = list(iam_lint.Plan(self.dir).documents())
        self.assertEqual([(d[0], d[1], d[2], d[3]) for d in docs],
                         [("aws_iam_policy.p", "policy", "identity (managed)", "data.aws_iam_policy_document.p")])
        self.assertEqual(docs[0][4]["Statement"][0]["Resource"], "arn:aws:sns:eu-west-1:111122223333:demo-alarms")

    def test_an_action_without_resource_types_scoped_to_an_arn_is_a_finding(self):
        problems, out = run([self.dir], self.suppressions)
        where = "demo: aws_iam_policy.p.policy (identity (managed), data.aws_iam_policy_document.p): statement Alarms"
        self.assertEqual(problems, 2)
        self.assertIn(f"{where}: ACTION_ONLY_ON_STAR: sns:Unsubscribe has no resource types", out)
        # parliament agrees, from its own copy of the reference
        self.assertIn(f'{where}: RESOURCE_MISMATCH: [{{"action": "sns:Unsubscribe", "required_format": "*"}}]', out)
        self.assertNotIn("sns:Publish", out)

    def test_a_suppression_hides_its_finding_and_a_stale_one_fails(self):
        entry = '[[suppress]]\npolicy = "aws_iam_policy.*"\nfinding = "ACTION_ONLY_ON_STAR"\nreason = "r"\n'
        entry += entry.replace("ACTION_ONLY_ON_STAR", "RESOURCE_MISMATCH")
        self.suppressions.write_text(entry, encoding="utf-8")
        self.assertEqual(run([self.dir], self.suppressions), (0, ""))
        stale = entry.split("[[suppress]]")[1].replace("ACTION_ONLY_ON_STAR", "RESOURCE_STAR")
        stale = "[[suppress]]" + stale
        self.suppressions.write_text(entry + stale, encoding="utf-8")
        problems, out = run([self.dir], self.suppressions)
        self.assertEqual(problems, 1)
        self.assertIn("stale suppression (matches no finding): policy=aws_iam_policy.* finding=RESOURCE_STAR", out)

    def test_an_aws_managed_policy_attachment_is_a_finding_until_reasoned(self):
        plan_path = self.dir / "plan.json"
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        plan["planned_values"]["root_module"]["resources"].append(
            {"address": "aws_iam_role_policy_attachment.ro", "mode": "managed",
             "type": "aws_iam_role_policy_attachment",
             "values": {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "role": "demo-github-plan"}})
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        entry = '[[suppress]]\npolicy = "aws_iam_policy.*"\nfinding = ["ACTION_ONLY_ON_STAR", "RESOURCE_MISMATCH"]\n'
        entry += 'reason = "r"\n'
        self.suppressions.write_text(entry, encoding="utf-8")
        problems, out = run([self.dir], self.suppressions)
        self.assertEqual(problems, 1)
        self.assertIn("demo: aws_iam_role_policy_attachment.ro: AWS_MANAGED_POLICY: attaches the AWS managed policy "
                      "ReadOnlyAccess", out)
        entry += ('[[suppress]]\npolicy = "aws_iam_role_policy_attachment.ro"\nfinding = "AWS_MANAGED_POLICY"\n'
                  'detail = "* ReadOnlyAccess,*"\nreason = "r"\n')
        self.suppressions.write_text(entry, encoding="utf-8")
        self.assertEqual(run([self.dir], self.suppressions), (0, ""))

    def test_a_suppression_without_a_reason_is_refused(self):
        self.suppressions.write_text('[[suppress]]\npolicy = "x"\nfinding = "Y"\n', encoding="utf-8")
        with self.assertRaisesRegex(iam_lint.LintError, "suppression 1 lacks reason"):
            run([self.dir], self.suppressions)


if __name__ == "__main__":
    unittest.main()
