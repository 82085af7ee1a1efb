/**
 * The network settings of one deployment, read from its stage params by serverless.yml
 * (`custom.network: ${file(deploy/network.js)}`); README "Deploying into a VPC".
 *
 *   subnetIds, securityGroupIds  comma-separated ids (or YAML lists under params.<stage>): every
 *                                function that opens a database connection runs in the VPC
 *   vpcEndpoints                 secretsmanager,rds (or none): interface endpoints with private
 *                                DNS and their own security group; needs vpcId
 *   vpcId                        the VPC of the subnets
 *
 * With none of them the database functions run outside any VPC and the stack still packages.
 * A malformed or half-given setting stops packaging with the reason, never deploys something else.
 */

const ID = {
  subnetIds: /^subnet-[0-9a-f]{8,17}$/,
  securityGroupIds: /^sg-[0-9a-f]{8,17}$/,
};
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
// Lambda's limits on a function's VPC configuration.
const MAX = { subnetIds: 16, securityGroupIds: 5 };
const ENDPOINTS = ['secretsmanager', 'rds'];

/**
 * A bad param, as the error `serverless package` prints: the reason alone. The framework prints a
 * thrown error's stack when it has one, and the stack of this file says nothing to the user.
 */
function invalid(message) {
  const err = new Error(message);
  err.stack = message;
  return err;
}

/** A param as a list of ids: "a,b", a YAML list, or absent. */
function ids(value, name) {
  if (value === null || value === undefined) return [];
  const items = (Array.isArray(value) ? value : String(value).split(','))
    .map((v) => String(v).trim())
    .filter((v) => v !== '');
  for (const item of items) {
    if (!ID[name].test(item)) throw invalid(`param ${name}: ${JSON.stringify(item)} is not a valid id`);
  }
  const unique = [...new Set(items)];
  if (unique.length > MAX[name]) throw invalid(`param ${name}: Lambda takes at most ${MAX[name]}`);
  return unique;
}

const arn = (type, id) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${type}/${id}`,
});

/**
 * The network-interface permissions Lambda needs to attach a function to the VPC (those of
 * AWSLambdaVPCAccessExecutionRole), each on the narrowest resource EC2 allows: interfaces only in
 * the stage's subnets with its security groups. The two Describe actions take no resource.
 */
function eniPolicy(subnetIds, securityGroupIds) {
  const interfaces = arn('network-interface', '*');
  return {
    PolicyName: 'vpc-network-interfaces',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ec2:CreateNetworkInterface'],
          Resource: [
            interfaces,
            ...subnetIds.map((id) => arn('subnet', id)),
            ...securityGroupIds.map((id) => arn('security-group', id)),
          ],
        },
        {
          Effect: 'Allow',
          Action: [
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          Resource: [interfaces],
        },
        {
          Effect: 'Allow',
          Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          Resource: '*',
        },
      ],
    },
  };
}

/** The settings serverless.yml reads, from the raw params (strings, lists or null). */
function network(params) {
  const subnetIds = ids(params.subnetIds, 'subnetIds');
  const securityGroupIds = ids(params.securityGroupIds, 'securityGroupIds');
  if ((subnetIds.length === 0) !== (securityGroupIds.length === 0)) {
    throw invalid('params subnetIds and securityGroupIds go together: give both, or neither');
  }
  const asked = String(params.vpcEndpoints ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '' && v !== 'none');
  for (const e of asked) {
    if (!ENDPOINTS.includes(e)) {
      throw invalid(
        `param vpcEndpoints: unknown endpoint ${JSON.stringify(e)}; one of ${ENDPOINTS.join(', ')}`,
      );
    }
  }
  const vpcId = params.vpcId ? String(params.vpcId).trim() : '';
  if (vpcId && !VPC_ID.test(vpcId)) throw invalid(`param vpcId: ${JSON.stringify(vpcId)} is not a valid id`);
  if (asked.length > 0 && (subnetIds.length === 0 || !vpcId)) {
    throw invalid('param vpcEndpoints needs subnetIds, securityGroupIds and vpcId');
  }
  const inVpc = subnetIds.length > 0;
  return {
    // Strings, for CloudFormation conditions.
    enabled: String(inVpc),
    endpoints: Object.fromEntries(ENDPOINTS.map((e) => [e, String(asked.includes(e))])),
    vpc: inVpc ? { subnetIds, securityGroupIds } : null,
    vpcId,
    subnetIds,
    eniPolicy: eniPolicy(subnetIds, securityGroupIds),
    // The endpoints answer HTTPS from the functions, and nothing else.
    endpointIngress: securityGroupIds.map((id) => ({
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: id,
      Description: 'HTTPS from the credflow functions',
    })),
  };
}

module.exports = async ({ resolveVariable }) => {
  const param = (name) => resolveVariable(`param:${name}, null`);
  return network({
    subnetIds: await param('subnetIds'),
    securityGroupIds: await param('securityGroupIds'),
    vpcEndpoints: await param('vpcEndpoints'),
    vpcId: await param('vpcId'),
  });
};
module.exports.network = network;
