import { RotationInProgressError, RotationStateError, ValidationError } from '../../../../src/errors';
import { parseRotationEvent, parseStepInput, tokenFromExecutionName } from '../../../../src/rotation/input';
import { checkToken, type SecretState } from '../../../../src/rotation/versions';

const state = (versions: Record<string, string[]>): SecretState => {
  const holder = (l: string) => Object.entries(versions).find(([, s]) => s.includes(l))?.[0];
  return {
    arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf',
    name: 'app',
    versions,
    tags: {},
    currentVersionId: holder('AWSCURRENT') ?? '',
    pendingVersionId: holder('AWSPENDING'),
    previousVersionId: holder('AWSPREVIOUS'),
  };
};
const T = '11111111-1111-4111-8111-111111111111';

describe('rotation step input', () => {
  it('takes the token from the execution name when it is a valid token', () => {
    expect(parseStepInput({ request: { secretId: 's' }, executionName: T })).toEqual({
      secretId: 's',
      token: T,
      strategy: undefined,
    });
  });

  it('maps a short execution name to the same UUID-shaped token every time', () => {
    const a = tokenFromExecutionName('s', 'rotate-now-1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tokenFromExecutionName('s', 'rotate-now-1')).toBe(a);
    expect(tokenFromExecutionName('t', 'rotate-now-1')).not.toBe(a);
  });

  it('rejects an unknown strategy and a missing secret id', () => {
    expect(() => parseStepInput({ request: { secretId: 's', strategy: 'yolo' }, executionName: T })).toThrow(
      ValidationError,
    );
    expect(() => parseStepInput({ request: {}, executionName: T })).toThrow(ValidationError);
  });

  it('parses the Secrets Manager rotation event and rejects an unknown step', () => {
    expect(parseRotationEvent({ Step: 'setSecret', SecretId: 'x', ClientRequestToken: T })).toEqual({
      step: 'setSecret',
      input: { secretId: 'x', token: T },
    });
    expect(() => parseRotationEvent({ Step: 'dropSecret', SecretId: 'x', ClientRequestToken: T })).toThrow(
      ValidationError,
    );
  });
});

describe('the version check every step makes', () => {
  it('is a no-op once the token is AWSCURRENT', () => {
    expect(checkToken(state({ [T]: ['AWSCURRENT'], old: ['AWSPREVIOUS'] }), 'setSecret', T)).toBe('current');
  });

  it('refuses a token version that is not AWSPENDING', () => {
    expect(() => checkToken(state({ v1: ['AWSCURRENT'], [T]: [] }), 'setSecret', T)).toThrow(
      RotationStateError,
    );
  });

  it('lets only createSecret start from a token that is not a version yet', () => {
    expect(checkToken(state({ v1: ['AWSCURRENT'] }), 'createSecret', T)).toBe('proceed');
    expect(() => checkToken(state({ v1: ['AWSCURRENT'] }), 'testSecret', T)).toThrow(RotationStateError);
  });

  it('refuses to start while another version holds AWSPENDING', () => {
    const s = state({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] });
    expect(() => checkToken(s, 'createSecret', T)).toThrow(RotationInProgressError);
  });

  it('ignores AWSPENDING left on the current version by an earlier rotation', () => {
    expect(checkToken(state({ v1: ['AWSCURRENT', 'AWSPENDING'] }), 'createSecret', T)).toBe('proceed');
  });

  it('lets every step act on the token holding AWSPENDING', () => {
    const s = state({ v1: ['AWSCURRENT'], [T]: ['AWSPENDING'] });
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      expect(checkToken(s, step, T)).toBe('proceed');
    }
  });

  it('says which version of which secret it refused, and why', () => {
    const s = state({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'], [T]: ['AWSPREVIOUS'] });
    const arn = s.arn;
    expect(() => checkToken(s, 'setSecret', T)).toThrow(
      new RotationStateError(`version ${T} of ${arn} is not AWSPENDING: it cannot be rotated in`),
    );
    expect(() => checkToken(s, 'setSecret', 'missing')).toThrow(
      new RotationStateError(`version missing of ${arn} does not exist: run createSecret first`),
    );
    expect(() => checkToken(s, 'createSecret', 'missing')).toThrow(
      new RotationInProgressError(`A previous rotation isn't complete: ${arn} has AWSPENDING on version v2`),
    );
  });
});
