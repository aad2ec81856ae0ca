"""Tests for the workflow helper scripts in .github/scripts against a stub `aws` CLI.

Why: the deploy step must fail when the SSM command fails or overruns its deadline, and must refuse a digest or a
target it cannot trust; none of that can be exercised against AWS from here, so a stub plays the AWS CLI.

Run: python3 -m unittest discover -s .github/scripts -p 'test_*.py'
"""

import json
import os
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SSM_DEPLOY = HERE / "ssm-deploy.sh"
DIGEST = "sha256:" + "0f" * 32

# The stub answers from files in $STUB_DIR: instances, status (one line per poll) and invocation.json.
STUB_AWS = r"""#!/usr/bin/env bash
set -euo pipefail
echo "aws $*" >>"$STUB_DIR/calls.log"
case "$1 $2" in
  "ecr describe-images") [[ -e $STUB_DIR/image-missing ]] && exit 254; echo "$DIGEST_SEEN" ;;
  "ec2 describe-instances") cat "$STUB_DIR/instances" ;;
  "ssm send-command") echo cmd-123 ;;
  "ssm get-command-invocation")
    if [[ " $* " == *" --query Status "* ]]; then
      line=$(head -n 1 "$STUB_DIR/status"); if (($(wc -l <"$STUB_DIR/status") > 1)); then sed -i 1d "$STUB_DIR/status"; fi
      echo "$line"
    else
      cat "$STUB_DIR/invocation.json"
    fi ;;
  "ssm cancel-command") ;;
  "ssm put-parameter") ;;
  *) echo "unexpected: $*" >&2; exit 99 ;;
esac
"""


class SsmDeploy(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ssm-deploy-test-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)], check=True)
        bindir = self.tmp / "bin"
        bindir.mkdir()
        aws = bindir / "aws"
        aws.write_text(STUB_AWS, encoding="utf-8")
        aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
        # `sleep` is stubbed so the polling loop runs instantly.
        sleeper = bindir / "sleep"
        sleeper.write_text("#!/usr/bin/env bash\n", encoding="utf-8")
        sleeper.chmod(sleeper.stat().st_mode | stat.S_IXUSR)
        self.bindir = bindir
        self.set_instances("i-0abc")
        self.set_status("InProgress", "Success")
        self.set_invocation("Success", "pulled\ndeployed", "", 0)

    def set_instances(self, *ids):
        (self.tmp / "instances").write_text("\t".join(ids) + "\n", encoding="utf-8")

    def set_status(self, *lines):
        (self.tmp / "status").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def set_invocation(self, status, out, err, code):
        body = {"Status": status, "StandardOutputContent": out, "StandardErrorContent": err, "ResponseCode": code}
        (self.tmp / "invocation.json").write_text(json.dumps(body), encoding="utf-8")

    def run_script(self, *args, timeout="60"):
        env = dict(os.environ)
        env.update(
            PATH=f"{self.bindir}:{env['PATH']}",
            STUB_DIR=str(self.tmp),
            DIGEST_SEEN=DIGEST,
            PLATFORM_NAME="demo",
            AWS_REGION="eu-west-1",
            DEPLOY_TIMEOUT_SECONDS=timeout,
            GITHUB_STEP_SUMMARY=str(self.tmp / "summary.md"),
        )
        return subprocess.run(
            ["bash", str(SSM_DEPLOY), *args], env=env, capture_output=True, text=True, check=False
        )

    def calls(self):
        path = self.tmp / "calls.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def test_success_sends_the_document_with_the_digest_and_prints_output(self):
        result = self.run_script(DIGEST)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("deployed", result.stdout)
        send = [c for c in self.calls() if c.startswith("aws ssm send-command")]
        self.assertEqual(len(send), 1)
        self.assertIn("--document-name demo-etl-deploy", send[0])
        self.assertIn("--instance-ids i-0abc", send[0])
        self.assertIn(f"--parameters ImageDigest={DIGEST}", send[0])
        describe = [c for c in self.calls() if c.startswith("aws ec2 describe-instances")]
        self.assertIn("Name=tag:hadrian:etl-host,Values=demo", describe[0])
        self.assertIn("demo-etl@" + DIGEST, (self.tmp / "summary.md").read_text(encoding="utf-8"))
        # The digest is recorded last, after the command succeeded, for a replaced host's first boot.
        self.assertEqual(
            self.calls()[-1],
            f"aws ssm put-parameter --name /hadrian/demo/etl/image-digest --type String --value {DIGEST} --overwrite",
        )

    def test_failed_command_fails_the_job_and_shows_stderr(self):
        self.set_status("InProgress", "Failed")
        self.set_invocation("Failed", "pulling", "deploy: migration failed", 7)
        result = self.run_script(DIGEST)
        self.assertEqual(result.returncode, 1)
        self.assertIn("deploy: migration failed", result.stdout)
        self.assertIn("ended with status Failed (exit code 7)", result.stderr)
        self.assertFalse(any(c.startswith("aws ssm put-parameter") for c in self.calls()))

    def test_deadline_cancels_the_command(self):
        self.set_status("InProgress")
        result = self.run_script(DIGEST, timeout="0")
        self.assertEqual(result.returncode, 1)
        self.assertIn("still InProgress after 0s; cancelled", result.stderr)
        self.assertTrue(any(c.startswith("aws ssm cancel-command") for c in self.calls()))
        self.assertFalse(any(c.startswith("aws ssm put-parameter") for c in self.calls()))

    def test_refuses_bad_digest_missing_image_and_ambiguous_target(self):
        result = self.run_script("sha256:abc")
        self.assertEqual(result.returncode, 1)
        self.assertIn("does not match", result.stderr)
        self.assertEqual(self.calls(), [])

        (self.tmp / "image-missing").touch()
        result = self.run_script(DIGEST)
        self.assertIn("is not in ECR repository demo-etl", result.stderr)
        (self.tmp / "image-missing").unlink()

        for ids in [(), ("i-1", "i-2")]:
            self.set_instances(*ids)
            result = self.run_script(DIGEST)
            self.assertEqual(result.returncode, 1)
            self.assertIn(f"expected exactly one running instance tagged hadrian:etl-host=demo, found {len(ids)}",
                          result.stderr)
        self.assertFalse(any(c.startswith("aws ssm send-command") for c in self.calls()))


if __name__ == "__main__":
    unittest.main()
