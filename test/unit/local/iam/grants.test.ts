/**
 * The grants `npm run iam:minimal` removes one by one: listed per statement (per action when a
 * statement lists several), removed from one role only, and applied at once to credentials the
 * role's sessions already hold (a function's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_STAGE } from '../../../../local/boot';
import { IamGate } from '../../../../local/iam/gate';
import { grantsOf, withoutGrant } from '../../../../local/iam/grants';
import { Principals } from '../../../../local/iam/principals';
import { loadStackIam } from '../../../../local/iam/template';
import { silentLogger } from '../../../../local/log';

const ACCOUNT = '000000000000';
const root = path.resolve(__dirname, '../../../..');
const stack = loadStackIam(root, { region: 'us-east-1', accountId: ACCOUNT, stage: LOCAL_STAGE });
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:credflow/db/app-AbCdEf`;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'credflow-grants-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('grants of a role', () => {
  it("lists VerifyFunctionRole's grants action by action, without the Lambda runtime's AWS managed policies", () => {
    const labels = grantsOf(stack, 'VerifyFunctionRole').map((g) => g.label.split(' (')[0]);
    expect(labels).toEqual([
      'secretsmanager:DescribeSecret on secret:credflow/*, secret:rds!*',
      'secretsmanager:GetSecretValue on secret:credflow/*, secret:rds!*',
      // Adopted secrets, under their own names, while they carry credflow's managed tag.
      'secretsmanager:DescribeSecret on secret:*',
      'secretsmanager:GetSecretValue on secret:*',
      // verify's drift tag.
      'secretsmanager:TagResource on secret:*',
      'secretsmanager:UntagResource on secret:*',
      'rds:DescribeDBInstances on db:*, cluster:*',
      'rds:DescribeDBClusters on db:*, cluster:*',
    ]);
  });

  it('removes one action from one role; credentials already issued lose it at once, other roles keep it', () => {
    const principals = new Principals(
      { stateDir: dir, accountId: ACCOUNT, stack: undefined },
      { accessKeyId: 'AKIAADMINADMINADMIN0', secretAccessKey: 'x'.repeat(40) },
    );
    principals.useStack(stack);
    const gate = new IamGate({ logger: silentLogger, enabled: true });
    const verify = principals.issueRoleCredentials('VerifyFunctionRole', 'credflow-local-verifyCredentials');
    const preflight = principals.issueRoleCredentials(
      'PreflightFunctionRole',
      'credflow-local-checkConnectivity',
    );
    const read = (key: string, resource = SECRET) => {
      const caller = principals.lookup(key);
      if (!caller) throw new Error('unknown key');
      return gate.decide(caller, { action: 'secretsmanager:GetSecretValue', resource }).allowed;
    };
    const rdsSecret = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:rds!db-1234-AbCdEf`;
    expect(read(verify.accessKeyId)).toBe(true);
    expect(read(preflight.accessKeyId, rdsSecret)).toBe(true);

    const grant = grantsOf(stack, 'VerifyFunctionRole').find(
      (g) => g.action === 'secretsmanager:GetSecretValue',
    );
    if (!grant) throw new Error('no GetSecretValue grant');
    principals.useStack(withoutGrant(stack, grant));
    expect(read(verify.accessKeyId)).toBe(false);
    expect(read(verify.accessKeyId, rdsSecret)).toBe(false);
    expect(read(preflight.accessKeyId, rdsSecret)).toBe(true);
    // The statement keeps its other action.
    const caller = principals.lookup(verify.accessKeyId);
    if (!caller) throw new Error('unknown key');
    expect(gate.decide(caller, { action: 'secretsmanager:DescribeSecret', resource: SECRET }).allowed).toBe(
      true,
    );

    principals.useStack(stack);
    expect(read(verify.accessKeyId)).toBe(true);
  });
});
