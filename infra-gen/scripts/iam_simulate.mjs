// Attacker tests of the CI roles with an IAM policy evaluator (@cloud-copilot/iam-simulate, AGPL-3.0, test-only,
// installed into .work/node by .ci/setup, never shipped). For every planned configuration with a GitHub identity it
// evaluates the generated documents (rendered by iam_documents.py, the IAM lint's renderer) for two roles: the calls
// the job needs must be Allowed, the escalations must not be. Run after `just plan-configs`:
//
//   node infra-gen/scripts/iam_simulate.mjs .work/local/plan/configs/*/ .work/local/plan/configs/*/bootstrap/
//
// Covered: the apply role's and the deploy role's identity policies (the CI roles carry no boundary) and the state
// bucket's policy. Not covered here: trust policies, because the simulator drops GitHub's OIDC condition keys
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
      ['allow', 'read the platform key', 'kms:DescribeKey', key],
      ['allow', 'let RDS take a grant on the platform key', 'kms:CreateGrant', key, { 'kms:GrantIsForAWSResource': 'true' }],
      ['deny', 'create a key, even with the platform tag', 'kms:CreateKey', '*', { 'aws:RequestTag/Platform': n.platform }],
      ['deny', 'tag a foreign key with the platform tag', 'kms:TagResource', foreignKey, { 'aws:RequestTag/Platform': n.platform }],
      ['deny', "rewrite a platform-tagged foreign key's policy", 'kms:PutKeyPolicy', foreignKey, { 'aws:ResourceTag/Platform': n.platform }],
      ['deny', "rewrite the platform key's policy", 'kms:PutKeyPolicy', key],
      ['deny', 'schedule the platform key for deletion', 'kms:ScheduleKeyDeletion', key],
      ['deny', 'take a grant on the platform key for itself', 'kms:CreateGrant', key, { 'kms:GrantIsForAWSResource': 'false' }],
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
for (const [config, plan] of Object.entries(configs)) {
  const docs = plan.documents;
  if (!config.endsWith('/bootstrap') || !docs['aws_iam_role.github_apply.assume_role_policy']) continue;
  const applyName = plan.names['aws_iam_role.github_apply'];
  const n = {
    platform: applyName.replace(/-github-apply$/, ''),
    apply: applyName,
    deploy: plan.names['aws_iam_role.github_deploy'],
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
    deploy: [{ name: 'github_deploy', policy: docs['aws_iam_role_policy.github_deploy.policy'] }],
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
      const result = await runSimulation(
        {
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
        },
        {},
      );
      checked += 1;
      const got = result.resultType === 'error' ? `error ${JSON.stringify(result.errors)}` : result.overallResult;
      const ok = want === 'allow' ? got === 'Allowed' : got === 'ImplicitlyDenied' || got === 'ExplicitlyDenied';
      if (!ok) {
        failures += 1;
        console.log(`FAIL ${config} ${role}: ${what}: ${action} on ${resource}: want ${want}, got ${got}`);
      }
    }
  }
}
console.error(`iam simulate: ${checked} requests, ${failures} failure(s)`);
if (checked === 0) {
  console.error('iam simulate: no configuration with a GitHub identity was given');
  process.exit(2);
}
process.exit(failures ? 1 : 0);
