import {
  javaMemberName,
  sdkErrorName,
  toApiShape,
  toJavaShape,
} from '../../../../local/stepfunctions/integrations';

describe('AWS SDK integration naming', () => {
  it.each([
    ['DBInstances', 'DbInstances'],
    ['DBInstanceStatus', 'DbInstanceStatus'],
    ['ARN', 'Arn'],
    ['MultiAZ', 'MultiAz'],
    ['IAMDatabaseAuthenticationEnabled', 'IamDatabaseAuthenticationEnabled'],
    ['KmsKeyId', 'KmsKeyId'],
    ['executionArn', 'ExecutionArn'],
    ['S3Bucket', 'S3Bucket'],
  ])('%s is %s in a workflow', (api, java) => {
    expect(javaMemberName(api)).toBe(java);
  });

  it('names errors <Service>.<Name>Exception', () => {
    expect(sdkErrorName('secretsmanager', 'ResourceNotFoundException')).toBe(
      'SecretsManager.ResourceNotFoundException',
    );
    expect(sdkErrorName('rds', 'DBInstanceNotFound')).toBe('Rds.DbInstanceNotFoundException');
    expect(sdkErrorName('rds', 'DBInstanceNotFoundFault')).toBe('Rds.DbInstanceNotFoundException');
    expect(sdkErrorName('sfn', 'ExecutionAlreadyExists')).toBe('Sfn.ExecutionAlreadyExistsException');
  });

  it('renames structure members but leaves map keys alone', () => {
    expect(
      toJavaShape({
        ARN: 'arn:x',
        VersionIdsToStages: { 'a1b2c3d4-0000-4000-8000-000000000000': ['AWSCURRENT'] },
        DBInstances: [{ DBInstanceIdentifier: 'db1', TagList: [{ Key: 'k', Value: 'v' }] }],
        $metadata: { httpStatusCode: 200 },
      }),
    ).toEqual({
      Arn: 'arn:x',
      VersionIdsToStages: { 'a1b2c3d4-0000-4000-8000-000000000000': ['AWSCURRENT'] },
      DbInstances: [{ DbInstanceIdentifier: 'db1', TagList: [{ Key: 'k', Value: 'v' }] }],
    });
  });

  it('turns workflow parameters into API members', () => {
    expect(
      toApiShape('rds', {
        DbInstanceIdentifier: 'db1',
        MultiAz: false,
        CaCertificateIdentifier: 'rds-ca',
        Filters: [{ Name: 'engine', Values: ['postgres'] }],
      }),
    ).toEqual({
      DBInstanceIdentifier: 'db1',
      MultiAZ: false,
      CACertificateIdentifier: 'rds-ca',
      Filters: [{ Name: 'engine', Values: ['postgres'] }],
    });
    expect(toApiShape('sfn', { StateMachineArn: 'arn:s', Input: { a: 1 }, Name: 'n' })).toEqual({
      stateMachineArn: 'arn:s',
      input: '{"a":1}',
      name: 'n',
    });
    expect(toApiShape('secretsmanager', { SecretId: 's' })).toEqual({ SecretId: 's' });
  });
});
