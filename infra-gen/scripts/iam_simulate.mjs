// Attacker tests of the CI roles with an IAM policy evaluator (@cloud-copilot/iam-simulate, AGPL-3.0, test-only,
// installed into .work/node by .ci/setup, never shipped). For every planned configuration with a GitHub identity it
// evaluates the generated documents (rendered by iam_documents.py, the IAM lint's renderer) for each CI role: the calls
// the job needs must be Allowed, the escalations (and, for the plan role, every data read) must not be. Run after `just plan-configs`:
//
//   node infra-gen/scripts/iam_simulate.mjs .work/local/plan/configs/*/ .work/local/plan/configs/*/bootstrap/
//
// Covered: the apply, plan and deploy roles' identity policies (the CI roles carry no boundary), the state
// bucket's policy, and the permissions boundary as a platform role's ceiling: the apply job may rewrite a platform
// role's trust and policies (always under the boundary), so the `boundary` table gives the host role `*` on `*` and
// checks that the boundary alone keeps it to the platform's own data, key, logs and queues; and the alarm topic's and
// the alarm key's policies for CloudWatch acting for an alarm (this platform's, and a prefix-sharing platform's). "A prefix-sharing
// platform" is another platform in the same account whose name starts with this one's (`acme` and `acme-x`). Not covered here: trust policies, because the simulator drops GitHub's OIDC condition keys
// (`token.actions.githubusercontent.com:sub`) as unknown for sts:AssumeRoleWithWebIdentity, so it cannot tell the
// deploy environment from any other run; tests/it/access.rs pins those subjects exactly.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { runSimulation } = await import(
  join(root, '.work/node/node_modules/@cloud-copilot/iam-simulate/dist/esm/index.js')
);

const python = join(root, '.work/venv/bin/python');
const configs = JSON.parse(
  execFileSync(python, [join(root, 'infra-gen/scripts/iam_documents.py'), ...process.argv.slice(2)], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }),
);

/** The requests each role must be allowed and must be refused, for the platform `n`. */
function cases(n, arn, state, key) {
  const foreignKey = arn('kms', 'region', 'key/11111111-2222-3333-4444-555555555555');
  const boundary = arn('iam', '', `policy/${n.platform}-permissions-boundary`);
  const role = (name) => arn('iam', '', `role/${name}`);
  const withBoundary = { 'iam:PermissionsBoundary': boundary };
  const rds = (rest) => arn('rds', 'region', rest);
  // RDS names its managed secret rds!db-<uuid> and tags it with the instance's ARN.
  const secret = arn('secretsmanager', 'region', 'secret:rds!db-0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f-AbCdEf');
  // SSM encrypts and decrypts a SecureString with the caller's KMS permissions, its ARN as encryption context.
  // The simulator ignores kms:EncryptionContext:* keys (ignoredContextKeys), so the grant pinned to the agent
  // parameters' ARNs cannot be shown allowed (or another parameter's refused) here: tests/it/access.rs pins its
  // condition; the cases below are what kms:ViaService decides.
  const viaSsm = `ssm.${key.split(':')[3]}.amazonaws.com`;
  const agentParameter = arn('ssm', 'region', `parameter/AmazonCloudWatch-${n.platform}-etl-host`);
  const throughSsm = (parameter) => ({ 'kms:ViaService': viaSsm, 'kms:EncryptionContext:PARAMETER_ARN': parameter });
  const rdsTag = 'aws:ResourceTag/aws:rds:primaryDBInstanceArn';
  const ownSecret = { [rdsTag]: rds(`db:${n.platform}-postgres`) };
  const foreignSecret = { [rdsTag]: rds(`db:${n.platform}-x-postgres`) };
  return {
    apply: [
      ['allow', 'write the state object', 's3:PutObject', arn('s3', null, `${state.bucket}/${state.key}`)],
      ['allow', 'create a platform role with the boundary', 'iam:CreateRole', role(`${n.platform}-etl-host`), withBoundary],
      ['allow', 'pass the host role to EC2', 'iam:PassRole', role(`${n.platform}-etl-host`), { 'iam:PassedToService': 'ec2.amazonaws.com' }],
      ['deny', 'create a role without the boundary', 'iam:CreateRole', role(`${n.platform}-etl-host`)],
      ['deny', 'create a role with another boundary', 'iam:CreateRole', role(`${n.platform}-etl-host`), { 'iam:PermissionsBoundary': arn('iam', '', 'policy/other-boundary') }],
      ['deny', "remove a role's boundary", 'iam:DeleteRolePermissionsBoundary', role(`${n.platform}-etl-host`)],
      ['deny', 'write its own inline policy', 'iam:PutRolePolicy', role(n.apply)],
      ['deny', 'attach AdministratorAccess to itself', 'iam:AttachRolePolicy', role(n.apply), { 'iam:PolicyARN': arn('iam', 'aws', 'policy/AdministratorAccess') }],
      ['deny', 'write the deploy role', 'iam:UpdateAssumeRolePolicy', role(n.deploy)],
      ['deny', 'write its own managed policy', 'iam:CreatePolicyVersion', arn('iam', '', `policy/${n.apply}-identity`)],
      ['deny', 'rewrite the boundary', 'iam:CreatePolicyVersion', boundary],
      ['deny', "write another platform's role", 'iam:PutRolePolicy', role('zz-other-etl-host')],
      ['deny', 'pass a CI role to EC2', 'iam:PassRole', role(n.apply), { 'iam:PassedToService': 'ec2.amazonaws.com' }],
      ['deny', "rewrite the state bucket's policy", 's3:PutBucketPolicy', arn('s3', null, state.bucket)],
      ['deny', 'delete the state bucket', 's3:DeleteBucket', arn('s3', null, state.bucket)],
      ['deny', "suspend the state bucket's versioning", 's3:PutBucketVersioning', arn('s3', null, state.bucket)],
      ['deny', "write the bootstrap module's state", 's3:PutObject', arn('s3', null, `${state.bucket}/bootstrap/terraform.tfstate`)],
      ['allow', "write the host role's inline policy (it carries the boundary)", 'iam:PutRolePolicy', role(`${n.platform}-etl-host`), withBoundary],
      ['allow', "rewrite the host role's trust", 'iam:UpdateAssumeRolePolicy', role(`${n.platform}-etl-host`)],
      ['allow', 'attach the agent policy to the host role', 'iam:AttachRolePolicy', role(`${n.platform}-etl-host`), { ...withBoundary, 'iam:PolicyARN': arn('iam', '', `policy/${n.platform}-ssm-agent`) }],
      ['deny', 'write a platform role that has no boundary', 'iam:PutRolePolicy', role(`${n.platform}-etl-host`)],
      ['deny', 'delete a policy of a role that has no boundary', 'iam:DeleteRolePolicy', role(`${n.platform}-etl-host`)],
      ['deny', 'attach a platform policy to a role without the boundary', 'iam:AttachRolePolicy', role(`${n.platform}-etl-host`), { 'iam:PolicyARN': arn('iam', '', `policy/${n.platform}-ssm-agent`) }],
      ['deny', 'set another boundary on a platform role', 'iam:PutRolePermissionsBoundary', role(`${n.platform}-etl-host`), { 'iam:PermissionsBoundary': arn('iam', '', 'policy/other-boundary') }],
      ['deny', "write a prefix-sharing platform's CI role", 'iam:PutRolePolicy', role(`${n.platform}-x-github-apply`), withBoundary],
      ['deny', "rewrite a prefix-sharing platform's role trust", 'iam:UpdateAssumeRolePolicy', role(`${n.platform}-x-etl-host`)],
      ['deny', "rewrite a prefix-sharing platform's policy", 'iam:CreatePolicyVersion', arn('iam', '', `policy/${n.platform}-x-ssm-agent`)],
      ['deny', 'create a role outside the platform, even with the boundary', 'iam:CreateRole', role(`${n.platform}-admin`), withBoundary],
      ['allow', 'describe EC2 (what a plan of the network reads)', 'ec2:DescribeInstances', '*'],
      // Canonical's AMI parameter is public: its ARN has no account, which the simulator's ARN parser refuses
      // (no.resource.types), as parliament does (iam-lint.toml, ReadTheAmiParameter).
      ['deny', "read a parameter of the account's own", 'ssm:GetParameter', arn('ssm', 'region', 'parameter/prod/db-password')],
      ['allow', 'read the platform key', 'kms:DescribeKey', key],
      ['allow', 'let RDS take a grant on the platform key', 'kms:CreateGrant', key, { 'kms:GrantIsForAWSResource': 'true' }],
      ['deny', 'create a key, even with the platform tag', 'kms:CreateKey', '*', { 'aws:RequestTag/Platform': n.platform }],
      ['deny', 'tag a foreign key with the platform tag', 'kms:TagResource', foreignKey, { 'aws:RequestTag/Platform': n.platform }],
      ['deny', "rewrite a platform-tagged foreign key's policy", 'kms:PutKeyPolicy', foreignKey, { 'aws:ResourceTag/Platform': n.platform }],
      ['deny', "rewrite the platform key's policy", 'kms:PutKeyPolicy', key],
      ['deny', 'schedule the platform key for deletion', 'kms:ScheduleKeyDeletion', key],
      ['deny', 'take a grant on the platform key for itself', 'kms:CreateGrant', key, { 'kms:GrantIsForAWSResource': 'false' }],
      // Every other service by the exact names the platform module declares, never `<name>-*`.
      ['allow', 'modify the platform database', 'rds:ModifyDBInstance', rds(`db:${n.platform}-postgres`)],
      ['deny', "modify a prefix-sharing platform's database", 'rds:ModifyDBInstance', rds(`db:${n.platform}-x-postgres`)],
      ['deny', "delete a prefix-sharing platform's database", 'rds:DeleteDBInstance', rds(`db:${n.platform}-x-postgres`)],
      ['deny', "modify a prefix-sharing platform's parameter group", 'rds:ModifyDBParameterGroup', rds(`pg:${n.platform}-x-postgres16`)],
      ['deny', "delete a prefix-sharing platform's subnet group", 'rds:DeleteDBSubnetGroup', rds(`subgrp:${n.platform}-x-database`)],
      ['allow', 'let RDS rotate the platform database secret', 'secretsmanager:RotateSecret', secret, ownSecret],
      ['deny', "rotate a prefix-sharing platform's database secret", 'secretsmanager:RotateSecret', secret, foreignSecret],
      ['deny', 'rotate an RDS secret of no known instance', 'secretsmanager:RotateSecret', secret],
      ['allow', 'set the alarm topic attributes', 'sns:SetTopicAttributes', arn('sns', 'region', `${n.platform}-alarms`)],
      ['deny', "set a prefix-sharing platform's topic attributes", 'sns:SetTopicAttributes', arn('sns', 'region', `${n.platform}-x-alarms`)],
      // IAM's service reference authorizes the subscription calls on the subscription's topic.
      ['allow', "remove the alarm topic's e-mail subscription", 'sns:Unsubscribe', arn('sns', 'region', `${n.platform}-alarms`)],
      ['allow', "read the alarm topic's subscription", 'sns:GetSubscriptionAttributes', arn('sns', 'region', `${n.platform}-alarms`)],
      ['deny', "remove a prefix-sharing platform's subscription", 'sns:Unsubscribe', arn('sns', 'region', `${n.platform}-x-alarms`)],
      ['deny', "redirect another topic's subscription", 'sns:SetSubscriptionAttributes', arn('sns', 'region', 'billing-alerts')],
      ['allow', 'write a platform alarm', 'cloudwatch:PutMetricAlarm', arn('cloudwatch', 'region', `alarm:${n.platform}-etl-host-cpu-high`)],
      ['deny', "delete a prefix-sharing platform's alarm", 'cloudwatch:DeleteAlarms', arn('cloudwatch', 'region', `alarm:${n.platform}-x-etl-host-cpu-high`)],
      ['deny', 'write an alarm the platform does not declare', 'cloudwatch:PutMetricAlarm', arn('cloudwatch', 'region', `alarm:${n.platform}-anything`)],
      ['allow', 'write the platform dashboard', 'cloudwatch:PutDashboard', arn('cloudwatch', '', `dashboard/${n.platform}-platform`)],
      ['deny', "write a prefix-sharing platform's dashboard", 'cloudwatch:PutDashboard', arn('cloudwatch', '', `dashboard/${n.platform}-x-platform`)],
      ['allow', 'configure the ETL repository', 'ecr:PutImageScanningConfiguration', arn('ecr', 'region', `repository/${n.platform}-etl`)],
      ['deny', "delete a prefix-sharing platform's repository", 'ecr:DeleteRepository', arn('ecr', 'region', `repository/${n.platform}-x-etl`)],
      ['allow', 'update the deploy document', 'ssm:UpdateDocument', arn('ssm', 'region', `document/${n.platform}-etl-deploy`)],
      ['deny', "rewrite a prefix-sharing platform's deploy document", 'ssm:UpdateDocument', arn('ssm', 'region', `document/${n.platform}-x-etl-deploy`)],
      ['allow', 'write the agent configuration', 'ssm:PutParameter', arn('ssm', 'region', `parameter/AmazonCloudWatch-${n.platform}-etl-host`)],
      ['deny', 'encrypt with the platform key outside SSM', 'kms:Encrypt', key],
      ['deny', "write a prefix-sharing platform's agent configuration", 'ssm:PutParameter', arn('ssm', 'region', `parameter/AmazonCloudWatch-${n.platform}-x-etl-host`)],
      ['allow', 'configure the event queue', 'sqs:SetQueueAttributes', arn('sqs', 'region', `${n.platform}-etl-events`)],
      ['allow', 'configure the dead-letter queue', 'sqs:SetQueueAttributes', arn('sqs', 'region', `${n.platform}-etl-events-dlq`)],
      ['deny', "configure the queue of a platform named '<name>-etl-events'", 'sqs:SetQueueAttributes', arn('sqs', 'region', `${n.platform}-etl-events-etl-events`)],
      ['allow', "set the ETL log group's retention", 'logs:PutRetentionPolicy', arn('logs', 'region', `log-group:/hadrian/${n.platform}/etl`)],
      ['deny', 'delete a log group the platform does not declare', 'logs:DeleteLogGroup', arn('logs', 'region', `log-group:/hadrian/${n.platform}/other`)],
      ['allow', "write the data bucket's policy", 's3:PutBucketPolicy', arn('s3', null, `${n.platform}-hadrian-ml-data-bucket`)],
      ['deny', "write a prefix-sharing platform's bucket policy", 's3:PutBucketPolicy', arn('s3', null, `${n.platform}-hadrian-ml-x-hadrian-ml-data-bucket`)],
    ],
    // A platform role (the host's) given `*` on `*`: only the permissions boundary stands between it and the account.
    boundary: [
      ['allow', 'read the platform database secret', 'secretsmanager:GetSecretValue', secret, ownSecret],
      ['deny', "read a prefix-sharing platform's database secret", 'secretsmanager:GetSecretValue', secret, foreignSecret],
      ['deny', 'read an RDS secret of no known instance', 'secretsmanager:GetSecretValue', secret],
      ['deny', 'read another secret', 'secretsmanager:GetSecretValue', arn('secretsmanager', 'region', 'secret:prod/api-key-AbCdEf')],
      ['allow', 'decrypt with the platform key', 'kms:Decrypt', key],
      ['deny', 'decrypt with a foreign key', 'kms:Decrypt', foreignKey],
      ['allow', 'write the ETL log group', 'logs:PutLogEvents', arn('logs', 'region', `log-group:/hadrian/${n.platform}/etl:log-stream:i-0abc`)],
      ['allow', "read the ETL log group's events", 'logs:GetLogEvents', arn('logs', 'region', `log-group:/hadrian/${n.platform}/etl:log-stream:i-0abc`)],
      ['deny', "read a prefix-sharing platform's log events", 'logs:GetLogEvents', arn('logs', 'region', `log-group:/hadrian/${n.platform}-x/etl:log-stream:i-0abc`)],
      ['deny', "read another application's log events", 'logs:GetLogEvents', arn('logs', 'region', 'log-group:/aws/lambda/payments:log-stream:x')],
      ['allow', 'receive from the event queue', 'sqs:ReceiveMessage', arn('sqs', 'region', `${n.platform}-etl-events`)],
      ['allow', 'delete from the event queue', 'sqs:DeleteMessage', arn('sqs', 'region', `${n.platform}-etl-events`)],
      ['deny', "receive from a prefix-sharing platform's queue", 'sqs:ReceiveMessage', arn('sqs', 'region', `${n.platform}-x-etl-events`)],
      ['deny', "delete from the queue of a platform named '<name>-etl-events'", 'sqs:DeleteMessage', arn('sqs', 'region', `${n.platform}-etl-events-etl-events`)],
      ['allow', 'read a data object', 's3:GetObject', arn('s3', null, `${n.platform}-hadrian-ml-data-bucket/raw/events/a.csv`)],
      ['deny', "read a prefix-sharing platform's data object", 's3:GetObject', arn('s3', null, `${n.platform}-hadrian-ml-x-hadrian-ml-data-bucket/raw/a.csv`)],
      ['deny', 'read the Terraform state', 's3:GetObject', arn('s3', null, `${state.bucket}/${state.key}`)],
      ['allow', 'read the agent configuration', 'ssm:GetParameter', arn('ssm', 'region', `parameter/AmazonCloudWatch-${n.platform}-etl-host`)],
      ['deny', 'read a parameter the platform does not declare', 'ssm:GetParameter', arn('ssm', 'region', `parameter/hadrian/${n.platform}/other`)],
      ['allow', 'pull the ETL image', 'ecr:BatchGetImage', arn('ecr', 'region', `repository/${n.platform}-etl`)],
      ['deny', "pull a prefix-sharing platform's image", 'ecr:BatchGetImage', arn('ecr', 'region', `repository/${n.platform}-x-etl`)],
      ['deny', 'create a role', 'iam:CreateRole', role(`${n.platform}-etl-host-2`), withBoundary],
      ['deny', 'pass a role', 'iam:PassRole', role(`${n.platform}-etl-host`), { 'iam:PassedToService': 'ec2.amazonaws.com' }],
    ],
    // A pull request's plan: the configuration reads a refresh makes, never data, never a write.
    plan: [
      ['allow', 'describe EC2', 'ec2:DescribeInstances', '*'],
      ['allow', 'read the state object', 's3:GetObject', arn('s3', null, `${state.bucket}/${state.key}`)],
      ['allow', "get the data bucket's policy", 's3:GetBucketPolicy', arn('s3', null, `${n.platform}-hadrian-ml-data-bucket`)],
      ['allow', "get the data bucket's versioning", 's3:GetBucketVersioning', arn('s3', null, `${n.platform}-hadrian-ml-data-bucket`)],
      ['allow', 'describe the DB instance', 'rds:DescribeDBInstances', rds(`db:${n.platform}-postgres`)],
      ['allow', "list the DB instance's tags", 'rds:ListTagsForResource', rds(`db:${n.platform}-postgres`)],
      ['allow', "list the host role's tags", 'iam:ListRoleTags', role(`${n.platform}-etl-host`)],
      ['allow', "describe the platform database secret's metadata", 'secretsmanager:DescribeSecret', secret, ownSecret],
      ['allow', 'read the agent configuration parameter', 'ssm:GetParameter', arn('ssm', 'region', `parameter/AmazonCloudWatch-${n.platform}-etl-host`)],
      ['deny', 'decrypt with the platform key outside SSM', 'kms:Decrypt', key],
      ['deny', 'encrypt with the platform key, even through SSM', 'kms:Encrypt', key, throughSsm(agentParameter)],
      ['deny', 'read a data object', 's3:GetObject', arn('s3', null, `${n.platform}-hadrian-ml-data-bucket/raw/events/a.csv`)],
      ['deny', "read the bootstrap module's state", 's3:GetObject', arn('s3', null, `${state.bucket}/bootstrap/terraform.tfstate`)],
      ['deny', 'read the platform database secret', 'secretsmanager:GetSecretValue', secret, ownSecret],
      ['deny', 'read a SecureString parameter of the account', 'ssm:GetParameter', arn('ssm', 'region', 'parameter/prod/db-password')],
      ['deny', "read the ETL log group's events", 'logs:GetLogEvents', arn('logs', 'region', `log-group:/hadrian/${n.platform}/etl:log-stream:i-0abc`)],
      ['deny', 'receive from the event queue', 'sqs:ReceiveMessage', arn('sqs', 'region', `${n.platform}-etl-events`)],
      ['deny', 'pull the ETL image', 'ecr:BatchGetImage', arn('ecr', 'region', `repository/${n.platform}-etl`)],
      ['deny', 'decrypt with the platform key', 'kms:Decrypt', key],
      ['deny', 'write the state object', 's3:PutObject', arn('s3', null, `${state.bucket}/${state.key}`)],
      ['deny', 'take the state lock', 's3:PutObject', arn('s3', null, `${state.bucket}/${state.key}.tflock`)],
      ['deny', 'write its own inline policy', 'iam:PutRolePolicy', role(n.plan)],
      ['deny', 'attach AdministratorAccess to itself', 'iam:AttachRolePolicy', role(n.plan), { 'iam:PolicyARN': arn('iam', 'aws', 'policy/AdministratorAccess') }],
      ['deny', 'create a platform role, even with the boundary', 'iam:CreateRole', role(`${n.platform}-etl-host`), withBoundary],
      ['deny', "rewrite the host role's trust", 'iam:UpdateAssumeRolePolicy', role(`${n.platform}-etl-host`)],
      ['deny', 'modify the platform database', 'rds:ModifyDBInstance', rds(`db:${n.platform}-postgres`)],
    ],
    deploy: [
      ['allow', 'push the ETL image', 'ecr:PutImage', arn('ecr', 'region', `repository/${n.platform}-etl`)],
      ['allow', 'send the deploy document', 'ssm:SendCommand', arn('ssm', 'region', `document/${n.platform}-etl-deploy`)],
      ['allow', 'record the deployed digest', 'ssm:PutParameter', arn('ssm', 'region', `parameter/hadrian/${n.platform}/etl/image-digest`)],
      ['deny', 'push to another repository', 'ecr:PutImage', arn('ecr', 'region', 'repository/zz-other-etl')],
      ['deny', 'run a shell document', 'ssm:SendCommand', arn('ssm', 'region', 'document/AWS-RunShellScript')],
      ['deny', 'write another parameter', 'ssm:PutParameter', arn('ssm', 'region', `parameter/hadrian/${n.platform}/etl/other`)],
      ['deny', 'read the state', 's3:GetObject', arn('s3', null, `${state.bucket}/${state.key}`)],
      ['deny', 'pass a role', 'iam:PassRole', role(`${n.platform}-etl-host`)],
      ['deny', 'create a role', 'iam:CreateRole', role(`${n.platform}-etl-host`), withBoundary],
    ],
  };
}

let failures = 0;
let checked = 0;
/** Evaluates one request and counts it; a failure names the configuration, who asked and what for. */
async function judge(label, want, what, simulation) {
  const result = await runSimulation(simulation, {});
  checked += 1;
  const got = result.resultType === 'error' ? `error ${JSON.stringify(result.errors)}` : result.overallResult;
  const ok = want === 'allow' ? got === 'Allowed' : got === 'ImplicitlyDenied' || got === 'ExplicitlyDenied';
  if (!ok) {
    failures += 1;
    const { action, resource } = simulation.request;
    console.log(`FAIL ${label}: ${what}: ${action} on ${resource.resource}: want ${want}, got ${got}`);
  }
}

/** A request of an AWS service principal on behalf of `sourceArn`, decided by the resource's own policy alone. */
function serviceRequest(plan, service, action, resource, sourceArn, resourcePolicy) {
  return {
    request: {
      principal: service,
      action,
      resource: { resource, accountId: plan.account },
      contextVariables: { 'aws:SecureTransport': 'true', 'aws:SourceAccount': plan.account, 'aws:SourceArn': sourceArn },
    },
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
  };
}

for (const [config, plan] of Object.entries(configs)) {
  const docs = plan.documents;
  if (!config.endsWith('/bootstrap') || !docs['aws_iam_role.github_apply.assume_role_policy']) continue;
  const applyName = plan.names['aws_iam_role.github_apply'];
  const n = {
    platform: applyName.replace(/-github-apply$/, ''),
    apply: applyName,
    plan: plan.names['aws_iam_role.github_plan'],
    deploy: plan.names['aws_iam_role.github_deploy'],
    boundary: `${applyName.replace(/-github-apply$/, '')}-etl-host`,
  };
  // `where`: 'region' for a regional ARN, 'aws' for an AWS managed policy, else a global one in this account.
  const arn = (service, where, rest) => {
    const region = where === 'region' ? plan.region : '';
    const account = service === 's3' ? '' : where === 'aws' ? 'aws' : plan.account;
    return service === 's3' ? `arn:${plan.partition}:s3:::${rest}` : `arn:${plan.partition}:${service}:${region}:${account}:${rest}`;
  };
  // The state key from the apply role's grant on its lock object (`<key>.tflock`), wherever the area put it.
  const stateGrant = JSON.stringify(Object.values(docs));
  const bucket = plan.names['aws_s3_bucket.state'];
  const key = stateGrant.match(new RegExp(`s3:::${bucket}/([^"]+?)\\.tflock`))?.[1];
  if (!key) throw new Error(`${config}: no grant on ${bucket}/<key>.tflock found in the apply policies`);
  const state = { bucket, key };
  // The platform key as the apply policies name it (the bootstrap module's own key).
  const platformKey = stateGrant.match(/arn:[^"]*:kms:[^"]*:key\/[0-9a-f-]+/)?.[0];
  if (!platformKey) throw new Error(`${config}: no key ARN found in the apply policies`);
  const identity = {
    apply: Object.entries(docs)
      .filter(([address]) => /^aws_iam_policy\.github_apply_[a-z]+\.policy$/.test(address))
      .map(([name, policy]) => ({ name, policy })),
    plan: Object.entries(docs)
      .filter(([address]) => /^aws_iam_policy\.github_plan_[a-z]+\.policy$/.test(address))
      .map(([name, policy]) => ({ name, policy })),
    deploy: [{ name: 'github_deploy', policy: docs['aws_iam_role_policy.github_deploy.policy'] }],
    boundary: [{ name: 'everything', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
  };
  const boundaries = {
    boundary: [{ name: 'permissions_boundary', policy: docs['aws_iam_policy.permissions_boundary.policy'] }],
  };
  const statePolicy = docs['aws_s3_bucket_policy.state.policy'];
  // KMS requires the key policy to allow too: the platform key's own policy, and for any other key AWS's default
  // policy (the account may administer it), under which IAM policies alone decide: the worst case for a foreign key.
  const keyPolicy = (resource) =>
    resource === platformKey
      ? docs['aws_kms_key.platform.policy']
      : {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: arn('iam', '', 'root') }, Action: 'kms:*', Resource: '*' }],
        };
  for (const [role, table] of Object.entries(cases(n, arn, state, platformKey))) {
    const principal = arn('iam', '', `role/${n[role]}`);
    for (const [want, what, action, resource, context = {}] of table) {
      const onState = resource.startsWith(arn('s3', null, state.bucket));
      await judge(`${config} ${role}`, want, what, {
        request: {
          principal,
          action,
          resource: { resource, accountId: plan.account },
          contextVariables: { 'aws:SecureTransport': 'true', ...context },
        },
        identityPolicies: identity[role],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: onState ? statePolicy : resource.includes(':kms:') ? keyPolicy(resource) : undefined,
        permissionBoundaryPolicies: boundaries[role],
      });
    }
  }
  // CloudWatch publishes to the alarm topic (platform module) with the alarm key (this module) for the platform's
  // own alarms, each by exact ARN: a prefix-sharing platform's alarm is refused by both policies.
  const platformDocs = configs[config.replace(/\/bootstrap$/, '')]?.documents;
  if (!platformDocs) throw new Error(`${config}: plan its platform module too (${config.replace(/\/bootstrap$/, '')})`);
  const topic = arn('sns', 'region', `${n.platform}-alarms`);
  const alarmsKey = arn('kms', 'region', 'key/00000000-0000-0000-0000-000000000000');
  const alarm = (name) => arn('cloudwatch', 'region', `alarm:${name}`);
  for (const [want, what, name] of [
    ['allow', 'a platform alarm', `${n.platform}-etl-host-cpu-high`],
    ['deny', "a prefix-sharing platform's alarm", `${n.platform}-x-etl-host-cpu-high`],
  ]) {
    const label = `${config} cloudwatch.amazonaws.com`;
    const publish = serviceRequest(plan, 'cloudwatch.amazonaws.com', 'sns:Publish', topic, alarm(name),
      platformDocs['aws_sns_topic_policy.alarms.policy']);
    await judge(label, want, `${what} publishes to the alarm topic`, publish);
    const encrypt = serviceRequest(plan, 'cloudwatch.amazonaws.com', 'kms:GenerateDataKey', alarmsKey, alarm(name),
      docs['aws_kms_key.alarms.policy']);
    await judge(label, want, `${what} uses the alarm topic key`, encrypt);
  }
}
console.error(`iam simulate: ${checked} requests, ${failures} failure(s)`);
if (checked === 0) {
  console.error('iam simulate: no configuration with a GitHub identity was given');
  process.exit(2);
}
process.exit(failures ? 1 : 0);
