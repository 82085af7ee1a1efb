import { z } from 'zod';
import { AwsError, parseRequest } from '../../../../local/http/errors';

const schema = z.object({
  SecretId: z.string().min(1).max(2048),
  stateMachineArn: z.string().min(1),
  Tags: z.array(z.object({ Key: z.string().max(3) })).optional(),
  MaxResults: z.number().int().max(100).optional(),
});

function failure(input: unknown): AwsError {
  try {
    parseRequest(schema, input);
  } catch (err) {
    if (err instanceof AwsError) return err;
    throw err;
  }
  throw new Error('the request was accepted');
}

describe('one request validator for every JSON service', () => {
  it("answers AWS's ValidationException, naming each member in AWS's words", () => {
    const e = failure({ SecretId: '', stateMachineArn: 'arn', MaxResults: 101 });
    expect(e.code).toBe('ValidationException');
    expect(e.message).toBe(
      "2 validation errors detected: Value at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        "Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
  });

  it('counts list positions from 1 and says when a member is missing', () => {
    expect(failure({ SecretId: 's', Tags: [{ Key: 'ok' }, { Key: 'long' }] }).message).toBe(
      "2 validation errors detected: Value at 'stateMachineArn' failed to satisfy constraint: Member must not be null; " +
        "Value at 'tags.2.key' failed to satisfy constraint: Member must have length less than or equal to 3",
    );
  });

  it('never quotes the offending value, which may be a secret', () => {
    const secret = 'hunter2-hunter2-hunter2';
    expect(failure({ SecretId: secret.repeat(100), stateMachineArn: 'a' }).message).not.toContain(secret);
  });

  it('returns the parsed request when it is valid', () => {
    expect(parseRequest(schema, { SecretId: 's', stateMachineArn: 'a', Extra: 1 })).toEqual({
      SecretId: 's',
      stateMachineArn: 'a',
    });
  });
});
