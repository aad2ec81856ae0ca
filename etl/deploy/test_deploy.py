"""Tests for the ETL host runtime files in etl/deploy/: the compose project and the deploy script.

Why: the host cannot be started here, so these tests pin the contract the host relies on (service names, env
variables, the awslogs driver settings, no credentials on disk) and run deploy.sh against stub `aws`, `docker` and
`systemctl` commands to check that a failed migration never switches the live image.

Run: python3 -m unittest discover -s etl/deploy -p 'test_*.py'
"""

import os
import re
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
COMPOSE = HERE / "compose.yaml"
DEPLOY = HERE / "deploy.sh"
UNIT = HERE / "hadrian-etl.service"
QUEUE_UNIT = HERE / "hadrian-etl-queue.service"
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-etl"
DIGEST = "sha256:" + "ab" * 32
PARAMETER = "/hadrian/demo/etl/image-digest"
REQUIRED_ENV = [
    "ETL_BUCKET",
    "ETL_DATASET",
    "ETL_DB_SECRET_ARN",
    "ETL_DATABASE_URL",
    "ETL_DB_SSLMODE",
    "AWS_REGION",
    "ETL_JOBS",
]


class ComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
        cls.services = cls.doc["services"]

    def test_services_are_process_queue_and_migrate(self):
        self.assertEqual(self.doc["name"], "hadrian-etl")
        self.assertEqual(sorted(self.services), ["migrate", "process", "queue"])
        self.assertEqual(self.services["process"]["command"], ["process"])
        # Same command; ETL_QUEUE_URL, set for the queue service only, switches etl to queue mode.
        self.assertEqual(self.services["queue"]["command"], ["process"])
        self.assertNotIn("ETL_QUEUE_URL", self.services["process"]["environment"])
        self.assertEqual(self.services["migrate"]["command"], ["migrate"])
        self.assertEqual(self.services["migrate"]["profiles"], ["deploy"])
        self.assertNotIn("profiles", self.services["process"])

    def test_image_is_required_and_never_pulled_by_a_run(self):
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertTrue(service["image"].startswith("${ETL_IMAGE:?"), service["image"])
                self.assertEqual(service["pull_policy"], "never")
                self.assertEqual(service["restart"], "no")

    def test_configuration_comes_from_the_environment(self):
        for name, service in self.services.items():
            env = service["environment"]
            with self.subTest(service=name):
                extra = ["ETL_QUEUE_URL"] if name == "queue" else []
                self.assertEqual(sorted(env), sorted(REQUIRED_ENV + extra))
                for key, value in env.items():
                    self.assertRegex(value, r"^\$\{" + key + r"(:\?|:-)", key)

    def test_tls_to_the_database_is_verified_by_default(self):
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertEqual(service["environment"]["ETL_DB_SSLMODE"], "${ETL_DB_SSLMODE:-verify-full}")

    def test_no_credentials_or_host_mounts(self):
        # Checked on the parsed document, so the comments may explain where the password comes from.
        values = yaml.safe_dump(self.services).lower()
        for word in ["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "pgpassword", "password"]:
            self.assertNotIn(word, values)
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertNotIn("volumes", service)
                self.assertNotIn("env_file", service)
                self.assertNotIn("privileged", service)

    def test_hardened_runtime(self):
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertIs(service["read_only"], True)
                self.assertEqual(service["user"], "65532:65532")
                self.assertEqual(service["cap_drop"], ["ALL"])
                self.assertIn("no-new-privileges:true", service["security_opt"])

    def test_awslogs_non_blocking_into_the_terraform_log_group(self):
        for name, service in self.services.items():
            logging = service["logging"]
            with self.subTest(service=name):
                self.assertEqual(logging["driver"], "awslogs")
                options = logging["options"]
                self.assertEqual(options["mode"], "non-blocking")
                self.assertRegex(options["max-buffer-size"], r"^\d+[kmg]$")
                self.assertEqual(options["awslogs-create-group"], "false")
                self.assertTrue(options["awslogs-group"].startswith("${ETL_LOG_GROUP:?"))
                self.assertTrue(options["awslogs-region"].startswith("${AWS_REGION:?"))
                # Every option value is a string: the Docker daemon rejects numbers and booleans here.
                self.assertTrue(all(isinstance(v, str) for v in options.values()), options)

    def test_no_template_delimiters_that_break_embedding(self):
        # infra-gen embeds this file in a minijinja-rendered cloud-init document.
        text = COMPOSE.read_text(encoding="utf-8")
        self.assertNotIn("{{", text)
        self.assertNotIn("{%", text)


UNIT_EXEC_PREFIX = [
    "/usr/bin/docker", "compose", "--project-directory", "/opt/hadrian/etl",
    "--env-file", "/etc/hadrian/etl.env", "--env-file", "/etc/hadrian/etl-image.env",
]


class ServiceUnit(unittest.TestCase):
    def test_runs_the_process_service_with_both_env_files(self):
        lines = UNIT.read_text(encoding="utf-8").splitlines()
        exec_start = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
        self.assertEqual(len(exec_start), 1)
        self.assertEqual(
            exec_start[0].split(),
            [
                "/usr/bin/docker", "compose", "--project-directory", "/opt/hadrian/etl",
                "--env-file", "/etc/hadrian/etl.env", "--env-file", "/etc/hadrian/etl-image.env",
                "run", "--rm", "--no-TTY", "process",
            ],
        )
        self.assertIn("Type=oneshot", lines)

    def test_the_queue_consumer_is_long_lived_restarts_and_waits_for_an_image(self):
        lines = QUEUE_UNIT.read_text(encoding="utf-8").splitlines()
        exec_start = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
        self.assertEqual(exec_start[0].split()[-4:], ["run", "--rm", "--no-TTY", "queue"])
        self.assertEqual(exec_start[0].split()[:-4], UNIT_EXEC_PREFIX)
        for line in [
            "Type=simple",
            "Restart=on-failure",
            "ConditionFileNotEmpty=/etc/hadrian/etl-image.env",
            "LogsDirectory=hadrian",
            "StandardOutput=append:/var/log/hadrian/etl-queue.log",
            "StandardError=append:/var/log/hadrian/etl-queue.log",
            "WantedBy=multi-user.target",
        ]:
            self.assertIn(line, lines)

    def test_output_is_appended_to_a_file_the_agent_collects(self):
        lines = UNIT.read_text(encoding="utf-8").splitlines()
        self.assertIn("LogsDirectory=hadrian", lines)
        self.assertIn("StandardOutput=append:/var/log/hadrian/etl-run.log", lines)
        self.assertIn("StandardError=append:/var/log/hadrian/etl-run.log", lines)

    def test_paths_match_the_deploy_script_defaults(self):
        script = DEPLOY.read_text(encoding="utf-8")
        for default in [
            "HADRIAN_ETL_DIR:-/opt/hadrian/etl}",
            "HADRIAN_ETL_ENV:-/etc/hadrian/etl.env}",
            "HADRIAN_ETL_IMAGE_ENV:-/etc/hadrian/etl-image.env}",
            "HADRIAN_ETL_UNIT:-hadrian-etl.service}",
            "HADRIAN_ETL_DEPLOY_LOG:-/var/log/hadrian/deploy.log}",
        ]:
            self.assertIn(default, script)


def _stub(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class DeployScript(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="etl-deploy-test-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)], check=True)
        self.bindir = self.tmp / "bin"
        self.bindir.mkdir()
        self.calls = self.tmp / "calls.log"
        log = f'echo "$(basename "$0") $*" >> {self.calls}\n'
        # `aws ssm get-parameter` answers RECORDED (the recorded digest) or fails like the CLI does.
        _stub(
            self.bindir,
            "aws",
            log + 'if [[ $1 == ssm ]]; then\n'
            '  [[ -n ${RECORDED:-} ]] && { echo "$RECORDED"; exit 0; }\n'
            '  echo "An error occurred (${PARAMETER_ERROR:-ParameterNotFound}) when calling the GetParameter operation" >&2\n'
            '  exit 254\n'
            'fi\n'
            "echo token\n",
        )
        # `systemctl is-enabled --quiet UNIT` fails for the units listed in DISABLED (a worker has no timer).
        _stub(
            self.bindir,
            "systemctl",
            log + 'if [[ $1 == is-enabled && " ${DISABLED:-} " == *" $3 "* ]]; then exit 1; fi\n',
        )
        # `docker compose ... run --rm migrate` fails when FAIL_MIGRATE is set; everything else succeeds.
        _stub(
            self.bindir,
            "docker",
            log + 'cat >/dev/null <&0 2>/dev/null || true\n'
            'if [[ " $* " == *" migrate "* && -n ${FAIL_MIGRATE:-} ]]; then exit 7; fi\n',
        )
        self.config_env = self.tmp / "etl.env"
        self.config_env.write_text("ETL_BUCKET=b\n", encoding="utf-8")
        self.image_env = self.tmp / "etl-image.env"
        self.image_env.write_text("ETL_IMAGE=old\n", encoding="utf-8")
        # A directory deploy.sh must create, as /var/log/hadrian on a fresh host.
        self.log_file = self.tmp / "log" / "hadrian" / "deploy.log"

    def run_deploy(self, *args, **extra_env):
        env = dict(os.environ)
        env.update(
            PATH=f"{self.bindir}:{env['PATH']}",
            HADRIAN_ETL_DIR=str(HERE),
            HADRIAN_ETL_ENV=str(self.config_env),
            HADRIAN_ETL_IMAGE_ENV=str(self.image_env),
            HADRIAN_ETL_DEPLOY_LOG=str(self.log_file),
            **extra_env,
        )
        return subprocess.run(
            ["bash", str(DEPLOY), *args], env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )

    def calls_made(self):
        return self.calls.read_text(encoding="utf-8").splitlines() if self.calls.exists() else []

    def test_deploys_pulls_migrates_records_and_runs(self):
        result = self.run_deploy(REPOSITORY, DIGEST)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), f"ETL_IMAGE={REPOSITORY}@{DIGEST}\n")
        calls = self.calls_made()
        # The login is a pipeline, so its two halves may log in either order.
        self.assertIn("aws ecr get-login-password --region eu-west-1", calls)
        self.assertIn("docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com", calls)
        self.assertIn(f"docker pull --quiet {REPOSITORY}@{DIGEST}", calls)
        migrate = [c for c in calls if c.endswith("run --rm --no-TTY migrate")]
        self.assertEqual(len(migrate), 1, calls)
        self.assertIn(f"--env-file {self.config_env}", migrate[0])
        self.assertEqual(calls[-1], "systemctl start hadrian-etl.service")
        self.assertIn("systemctl restart hadrian-etl-queue.service", calls)
        self.assertLess(calls.index("systemctl restart hadrian-etl-queue.service"), len(calls) - 1)
        self.assertEqual(list(self.tmp.glob("etl-image.env.*")), [])

    def test_a_worker_restarts_its_queue_consumer_and_runs_no_sweep(self):
        result = self.run_deploy(REPOSITORY, DIGEST, DISABLED="hadrian-etl.timer")
        self.assertEqual(result.returncode, 0, result.stderr)
        calls = self.calls_made()
        self.assertIn("systemctl restart hadrian-etl-queue.service", calls)
        self.assertNotIn("systemctl start hadrian-etl.service", calls)

    def test_everything_printed_is_appended_to_the_log_file(self):
        self.assertEqual(self.run_deploy(REPOSITORY, DIGEST).returncode, 0)
        failed = self.run_deploy(REPOSITORY, "latest")
        log = self.log_file.read_text(encoding="utf-8")
        self.assertIn(f"pulling {REPOSITORY}@{DIGEST}", log)
        self.assertIn(f"deployed {REPOSITORY}@{DIGEST}", log)
        self.assertRegex(log, r"deploy: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
        # Errors too, and still on stderr for the SSM command output.
        self.assertIn("digest 'latest' does not match", failed.stderr)
        self.assertIn("digest 'latest' does not match", log)

    def test_failed_migration_keeps_the_old_image(self):
        result = self.run_deploy(REPOSITORY, DIGEST, FAIL_MIGRATE="1")
        self.assertEqual(result.returncode, 7)
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), "ETL_IMAGE=old\n")
        self.assertNotIn("systemctl start hadrian-etl.service", self.calls_made())
        self.assertEqual(list(self.tmp.glob("etl-image.env.*")), [])

    def test_rejects_bad_arguments_before_doing_anything(self):
        cases = [
            ((REPOSITORY, "latest"), "does not match"),
            ((REPOSITORY, "sha256:" + "AB" * 32), "does not match"),
            ((REPOSITORY, DIGEST + ";reboot"), "does not match"),
            (("docker.io/library/etl", DIGEST), "is not an ECR repository URL"),
            ((REPOSITORY,), "usage:"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                result = self.run_deploy(*args)
                self.assertEqual(result.returncode, 2)
                self.assertIn(message, result.stderr)
        self.assertEqual(self.calls_made(), [])
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), "ETL_IMAGE=old\n")

    def test_restore_deploys_the_recorded_digest(self):
        result = self.run_deploy("--restore", REPOSITORY, PARAMETER, RECORDED=DIGEST)
        self.assertEqual(result.returncode, 0, result.stderr)
        calls = self.calls_made()
        self.assertEqual(
            calls[0],
            f"aws ssm get-parameter --region eu-west-1 --name {PARAMETER} --query Parameter.Value --output text",
        )
        self.assertIn(f"docker pull --quiet {REPOSITORY}@{DIGEST}", calls)
        self.assertEqual(calls[-1], "systemctl start hadrian-etl.service")
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), f"ETL_IMAGE={REPOSITORY}@{DIGEST}\n")

    def test_restore_without_a_recorded_digest_does_nothing(self):
        result = self.run_deploy("--restore", REPOSITORY, PARAMETER)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no image recorded", result.stdout)
        self.assertEqual([c.split()[0] for c in self.calls_made()], ["aws"])
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), "ETL_IMAGE=old\n")

    def test_restore_fails_on_other_errors_and_on_a_bad_recorded_value(self):
        result = self.run_deploy("--restore", REPOSITORY, PARAMETER, PARAMETER_ERROR="AccessDeniedException")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"cannot read {PARAMETER}", result.stderr)
        result = self.run_deploy("--restore", REPOSITORY, PARAMETER, RECORDED="latest")
        self.assertEqual(result.returncode, 2)
        self.assertIn("does not match", result.stderr)
        result = self.run_deploy("--restore", REPOSITORY, "etl/image-digest;reboot")
        self.assertEqual(result.returncode, 2)
        self.assertIn("is not an SSM parameter path", result.stderr)
        self.assertNotIn("docker", " ".join(self.calls_made()))
        self.assertEqual(self.image_env.read_text(encoding="utf-8"), "ETL_IMAGE=old\n")

    def test_digest_pattern_matches_the_ssm_document_contract(self):
        text = DEPLOY.read_text(encoding="utf-8")
        self.assertIn("^sha256:[0-9a-f]{64}$", text)
        self.assertTrue(re.fullmatch(r"^sha256:[0-9a-f]{64}$", DIGEST))


if __name__ == "__main__":
    unittest.main()
