import path from 'node:path';
import { threadId } from 'node:worker_threads';
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

// Functions the deployer registers run on their own worker thread with their own environment.
describe('LambdaRegistry: functions on their own threads', () => {
  const modulePath = path.join(__dirname, '../../../support/lambda/threaded-fn');
  const registries: LambdaRegistry[] = [];
  const threaded = (exportName: string, env: Record<string, string> = {}, opts = {}) => {
    const r = reg();
    registries.push(r);
    r.registerModule(exportName, { modulePath, exportName }, env, { memoryMb: 128, ...opts });
    return r;
  };
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.stop()));
  });

  it('runs off this thread, with its own environment and module state kept between calls', async () => {
    const r = threaded('describe', { ONLY_IN_FN: 'yes' });
    r.registerModule('other', { modulePath, exportName: 'describe' }, {}, { memoryMb: 128 });
    const first = (await r.invoke('describe', { a: 1 })) as Record<string, unknown>;
    const second = (await r.invoke('describe', { a: 2 })) as Record<string, unknown>;
    expect(first).toMatchObject({
      event: { a: 1 },
      calls: 1,
      fromEnv: 'yes',
      functionName: 'describe',
      memory: '128',
    });
    expect(first['threadId']).not.toBe(threadId);
    expect(second).toMatchObject({ event: { a: 2 }, calls: 2, threadId: first['threadId'] });
    // Another function: another thread, its own module state, and not the first one's environment.
    const other = (await r.invoke('other', {})) as Record<string, unknown>;
    expect(other).toMatchObject({ calls: 1, fromEnv: null, functionName: 'other' });
    expect(other['threadId']).not.toBe(first['threadId']);
    expect(process.env['ONLY_IN_FN']).toBeUndefined();
    expect(r.threads()).toEqual([
      { name: 'describe', running: true, starts: 1 },
      { name: 'other', running: true, starts: 1 },
    ]);
  });

  it("sees only its own variables, Lambda's reserved ones and the runtime's, never the host's others", async () => {
    const host = {
      CLOUD_ONLY_SECRET: 'not-for-functions',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
      AWS_SECRET_ACCESS_KEY: 'local-secret',
      AWS_PROFILE: 'someone',
    };
    const saved = Object.fromEntries(Object.keys(host).map((k) => [k, process.env[k]]));
    Object.assign(process.env, host);
    try {
      const r = threaded(
        'environment',
        { PASSWORD_LENGTH: '32', AWS_REGION: 'eu-west-1' },
        { memoryMb: 256 },
      );
      r.registerModule('sibling', { modulePath, exportName: 'environment' }, { SIBLING_ONLY: 'x' });
      const env = (await r.invoke('environment', {})) as Record<string, string>;
      expect(env).toMatchObject({
        PASSWORD_LENGTH: '32',
        // Reserved: Lambda's value, whatever the configuration says.
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_LAMBDA_FUNCTION_NAME: 'environment',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/environment',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
        AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
        AWS_SECRET_ACCESS_KEY: 'local-secret',
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
      });
      expect(env['LAMBDA_TASK_ROOT']).toBeDefined();
      expect(env['PATH']).toBeDefined();
      for (const k of ['CLOUD_ONLY_SECRET', 'AWS_PROFILE', 'SIBLING_ONLY', 'HOME', 'JEST_WORKER_ID']) {
        expect([k, env[k]]).toEqual([k, undefined]);
      }
      const allowed = new Set([
        'PASSWORD_LENGTH',
        'AWS_REGION',
        'AWS_DEFAULT_REGION',
        'AWS_LAMBDA_FUNCTION_NAME',
        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
        'AWS_LAMBDA_FUNCTION_VERSION',
        'AWS_LAMBDA_LOG_GROUP_NAME',
        'AWS_EXECUTION_ENV',
        'AWS_ENDPOINT_URL',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'NODE_EXTRA_CA_CERTS',
        'LAMBDA_TASK_ROOT',
        'TZ',
        'LANG',
        'PATH',
        'CREDFLOW_METRICS_OUTPUT',
        'CREDFLOW_LOG_LEVEL',
        'LOG_LEVEL',
        'POWERTOOLS_LOG_LEVEL',
        'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
      ]);
      expect(Object.keys(env).filter((k) => !allowed.has(k))).toEqual([]);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("signs with its own role's temporary credentials when it has them, never the host's keys", async () => {
    const saved = { id: process.env['AWS_ACCESS_KEY_ID'], key: process.env['AWS_SECRET_ACCESS_KEY'] };
    process.env['AWS_ACCESS_KEY_ID'] = 'AKIDADMIN';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'admin-secret';
    try {
      const r = threaded(
        'environment',
        {
          AWS_ACCESS_KEY_ID: 'ASIAROLE',
          AWS_SECRET_ACCESS_KEY: 'role-secret',
          AWS_SESSION_TOKEN: 'role-token',
        },
        { memoryMb: 256 },
      );
      const env = (await r.invoke('environment', {})) as Record<string, string>;
      expect([env['AWS_ACCESS_KEY_ID'], env['AWS_SECRET_ACCESS_KEY'], env['AWS_SESSION_TOKEN']]).toEqual([
        'ASIAROLE',
        'role-secret',
        'role-token',
      ]);
    } finally {
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.key],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("rejects with the handler's error name and message", async () => {
    await expect(threaded('typedError').invoke('typedError', {})).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'the secret is malformed',
    });
  });

  it('a function that exits or crashes fails its call with a runtime error; the next call starts a new thread', async () => {
    const r = threaded('exit');
    await expect(r.invoke('exit', {})).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    r.registerModule('crashLater', { modulePath, exportName: 'crashLater' }, {}, { memoryMb: 128 });
    await expect(r.invoke('crashLater', {})).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: expect.stringContaining('uncaught in a timer'),
    });
    await expect(r.invoke('exit', {})).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    expect(r.threads().find((t) => t.name === 'exit')?.starts).toBe(2);
  });

  it('a missing handler export fails each call with Runtime.HandlerNotFound', async () => {
    const r = threaded('notAFunction');
    await expect(r.invoke('notAFunction', {})).rejects.toMatchObject({ name: 'Runtime.HandlerNotFound' });
  });

  it('times out as an inline function does, and its memory setting bounds the heap', async () => {
    const r = threaded('hang', {}, { timeoutSeconds: 0.2 });
    await expect(r.invoke('hang', {})).rejects.toMatchObject({ name: 'TimeoutError' });
    r.registerModule('hog', { modulePath, exportName: 'hog' }, {}, { memoryMb: 64 });
    await expect(r.invoke('hog', {})).rejects.toMatchObject({ name: 'Runtime.OutOfMemory' });
  });

  it('an idle thread ends and the next call starts a new one; stop() ends them all', async () => {
    const r = threaded('describe', {}, { idleMs: 50 });
    await r.invoke('describe', {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.threads()).toEqual([{ name: 'describe', running: false, starts: 1 }]);
    expect(await r.invoke('describe', {})).toMatchObject({ calls: 1 });
    expect(r.threads()).toEqual([{ name: 'describe', running: true, starts: 2 }]);
    await r.stop();
    expect(r.threads()).toEqual([{ name: 'describe', running: false, starts: 2 }]);
  });
});
