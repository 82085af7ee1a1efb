import path from 'node:path';

/** deploy/network.js, which serverless.yml reads at package time (plain CommonJS, no types). */
interface Network {
  enabled: string;
  endpoints: Record<string, string>;
  vpc: { subnetIds: string[]; securityGroupIds: string[] } | null;
  vpcId: string;
  endpointIngress: { SourceSecurityGroupId: string; FromPort: number }[];
}
const { network } = require(path.resolve(__dirname, '../../../deploy/network.js')) as {
  network: (params: Record<string, unknown>) => Network;
};

const SUBNET = 'subnet-0123456789abcdef0';
const GROUP = 'sg-0123456789abcdef0';

describe('deploy/network.js (the VPC settings of a stage)', () => {
  it('leaves the functions outside any VPC when no param is given', () => {
    expect(network({})).toMatchObject({
      enabled: 'false',
      vpc: null,
      endpoints: { secretsmanager: 'false', rds: 'false' },
      endpointIngress: [],
    });
  });

  it('reads comma-separated ids and YAML lists alike, trimmed and without duplicates', () => {
    const a = network({
      subnetIds: ` ${SUBNET} , subnet-0fedcba9876543210,${SUBNET}`,
      securityGroupIds: GROUP,
    });
    const b = network({ subnetIds: [SUBNET, 'subnet-0fedcba9876543210'], securityGroupIds: [GROUP] });
    expect(a.vpc).toEqual({ subnetIds: [SUBNET, 'subnet-0fedcba9876543210'], securityGroupIds: [GROUP] });
    expect(b.vpc).toEqual(a.vpc);
    expect(a.enabled).toBe('true');
  });

  it('opens the endpoints to every function security group on 443, when asked', () => {
    const n = network({
      subnetIds: SUBNET,
      securityGroupIds: `${GROUP},sg-00112233445566778`,
      vpcId: 'vpc-0123456789abcdef0',
      vpcEndpoints: 'secretsmanager, RDS',
    });
    expect(n.endpoints).toEqual({ secretsmanager: 'true', rds: 'true' });
    expect(n.endpointIngress.map((r) => [r.SourceSecurityGroupId, r.FromPort])).toEqual([
      [GROUP, 443],
      ['sg-00112233445566778', 443],
    ]);
    expect(network({ subnetIds: SUBNET, securityGroupIds: GROUP, vpcEndpoints: 'none' }).endpoints).toEqual({
      secretsmanager: 'false',
      rds: 'false',
    });
  });

  it.each([
    ['subnets without security groups', { subnetIds: SUBNET }, /go together/],
    ['security groups without subnets', { securityGroupIds: GROUP }, /go together/],
    [
      'a subnet id that is not one',
      { subnetIds: 'subnet-xyz', securityGroupIds: GROUP },
      /subnetIds.*not a valid id/,
    ],
    [
      'a security group name',
      { subnetIds: SUBNET, securityGroupIds: 'default' },
      /securityGroupIds.*not a valid id/,
    ],
    [
      'six security groups',
      { subnetIds: SUBNET, securityGroupIds: Array.from({ length: 6 }, (_, i) => `sg-0000000${i}`) },
      /at most 5/,
    ],
    [
      'endpoints without a VPC id',
      { subnetIds: SUBNET, securityGroupIds: GROUP, vpcEndpoints: 'rds' },
      /needs subnetIds, securityGroupIds and vpcId/,
    ],
    [
      'endpoints without subnets',
      { vpcId: 'vpc-0123456789abcdef0', vpcEndpoints: 'secretsmanager' },
      /needs subnetIds/,
    ],
    [
      'an unknown endpoint',
      { subnetIds: SUBNET, securityGroupIds: GROUP, vpcId: 'vpc-0123456789abcdef0', vpcEndpoints: 'sts' },
      /unknown endpoint "sts"/,
    ],
    ['a VPC id that is not one', { vpcId: 'my-vpc' }, /vpcId.*not a valid id/],
  ])('stops packaging on %s, with the reason and no stack trace', (_label, params, message) => {
    expect(() => network(params)).toThrow(message);
    // serverless prints a thrown error's stack: it must be the reason alone.
    let stack = '';
    try {
      network(params);
    } catch (err) {
      stack = String((err as Error).stack);
    }
    expect(stack).toMatch(message);
    expect(stack).not.toMatch(/\n\s+at /);
  });
});
