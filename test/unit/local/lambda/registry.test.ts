import {
  LambdaNotFoundError,
  LambdaRegistry,
  type LocalLambdaContext,
} from '../../../../local/lambda/registry';

const reg = () => new LambdaRegistry({ region: 'us-east-1', accountId: '000000000000' });

describe('LambdaRegistry', () => {
  it('names functions by ARN and finds them by name, full, qualified or partial ARN', async () => {
    const r = reg();
    const arn = r.register('rotator', async (event) => ({ got: event }));
    expect(arn).toBe('arn:aws:lambda:us-east-1:000000000000:function:rotator');
    expect(r.arn('rotator')).toBe(arn);
    for (const id of ['rotator', arn, `${arn}:$LATEST`, '000000000000:function:rotator']) {
      expect(r.has(id)).toBe(true);
      expect(await r.invoke(id, { a: 1 })).toEqual({ got: { a: 1 } });
    }
    expect(r.has('arn:aws:lambda:eu-west-1:000000000000:function:rotator')).toBe(false);
    expect(r.has('other')).toBe(false);
  });

  // `serverless deploy` names a function <service>-<stage>-<key>; the ARN in its output names that.
  it('answers to its deployed name and to an alias, with ARNs always carrying the deployed name', async () => {
    const r = reg();
    const arn = r.register(
      'credflow-dev-rotationLambda',
      async () => 'v1',
      {},
      { aliases: ['rotationLambda'] },
    );
    expect(arn).toBe('arn:aws:lambda:us-east-1:000000000000:function:credflow-dev-rotationLambda');
    expect(r.arn('rotationLambda')).toBe(arn);
    for (const id of [arn, 'credflow-dev-rotationLambda', 'rotationLambda', `${arn}:$LATEST`]) {
      expect(await r.invoke(id, {})).toBe('v1');
    }
    // Registering under the alias swaps the function the alias names.
    r.register('rotationLambda', async () => 'v2');
    expect(await r.invoke(arn, {})).toBe('v2');
    expect(r.unregister('rotationLambda')).toBe(true);
    expect(r.has(arn)).toBe(false);
    expect(r.has('rotationLambda')).toBe(false);
  });

  it('passes the function environment in the context, never through process.env', async () => {
    const r = reg();
    r.register(
      'envy',
      async (_event, context) => {
        const ctx = context as LocalLambdaContext;
        return {
          env: ctx.env,
          name: ctx.functionName,
          arn: ctx.invokedFunctionArn,
          fromProcess: process.env['ONLY_IN_FN'],
        };
      },
      { ONLY_IN_FN: 'yes' },
    );
    expect(await r.invoke('envy', {})).toEqual({
      env: { ONLY_IN_FN: 'yes' },
      name: 'envy',
      arn: r.arn('envy'),
    });
  });

  it('hands the handler a copy of the event (JSON round trip) and rejects with its error', async () => {
    const r = reg();
    const event = { nested: { x: 1 } };
    r.register('mutator', async (e) => {
      (e as typeof event).nested.x = 2;
      throw Object.assign(new Error('boom'), { name: 'TransientError' });
    });
    await expect(r.invoke('mutator', event)).rejects.toMatchObject({
      name: 'TransientError',
      message: 'boom',
    });
    expect(event.nested.x).toBe(1);
  });

  it('an unknown function: LambdaNotFoundError', async () => {
    await expect(reg().invoke('ghost', {})).rejects.toBeInstanceOf(LambdaNotFoundError);
  });

  it('fails a call that runs past its timeout', async () => {
    const r = reg();
    r.register(
      'slow',
      () => new Promise((resolve) => setTimeout(resolve, 1_000)),
      {},
      { timeoutSeconds: 0.05 },
    );
    await expect(r.invoke('slow', {})).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
