import { parseLocalCloudArgs } from '../../../local/main';

describe('local cloud arguments', () => {
  it('defaults to port 4566 and .credflow/', () => {
    expect(parseLocalCloudArgs([])).toEqual({
      port: 4566,
      stateDir: '.credflow',
      region: undefined,
      logLevel: undefined,
      quotas: true,
    });
  });

  it('--no-quotas turns AWS quotas off', () => {
    expect(parseLocalCloudArgs(['--no-quotas'])).toMatchObject({ quotas: false });
    expect(() => parseLocalCloudArgs(['--no-quotas=1'])).toThrow(/takes no value/);
  });

  it('reads --x value and --x=value', () => {
    expect(
      parseLocalCloudArgs([
        '--port',
        '0',
        '--state-dir=/tmp/s',
        '--region',
        'eu-west-1',
        '--log-level=silent',
      ]),
    ).toEqual({
      port: 0,
      stateDir: '/tmp/s',
      region: 'eu-west-1',
      logLevel: 'silent',
      quotas: true,
    });
  });

  it('refuses unknown options and bad ports', () => {
    expect(() => parseLocalCloudArgs(['--prot', '1'])).toThrow(/unknown option/);
    expect(() => parseLocalCloudArgs(['--port', '70000'])).toThrow(/--port/);
    expect(() => parseLocalCloudArgs(['--port'])).toThrow(/needs a value/);
    expect(() => parseLocalCloudArgs(['--port', '--state-dir', '/tmp/s'])).toThrow(/--port needs a value/);
    expect(() => parseLocalCloudArgs(['4566'])).toThrow(/unexpected argument: 4566/);
  });
});
