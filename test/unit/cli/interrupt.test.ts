import { follow } from '../../../cli/commands';
import { createClients } from '../../../src/aws/clients';

describe('following an execution', () => {
  it('has its Ctrl-C hook in place when it prints the line that names the execution, and removes it after', async () => {
    // A real SDK client towards a port where nothing listens: following ends at once with an error.
    const conn = {
      clients: createClients({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      }),
      stage: 'local',
      mode: 'local' as const,
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
    };
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:credflow-local-rotate-secret:x1';
    const before = process.listenerCount('SIGINT');
    const hooksAtHeader: number[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      if (String(chunk).includes(arn)) hooksAtHeader.push(process.listenerCount('SIGINT'));
      return true;
    });
    try {
      await expect(follow({ stateDir: '.credflow', local: true }, conn, arn, 'rotate-now')).rejects.toThrow();
    } finally {
      write.mockRestore();
    }
    // A script that sends SIGINT on reading that line finds the hook, not Node's default exit.
    expect(hooksAtHeader).toEqual([before + 1]);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
