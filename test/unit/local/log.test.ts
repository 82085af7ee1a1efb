import { createLogger, redactingLogger } from '../../../local/log';

describe('the local cloud logger', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
  };

  it('drops fields named for secrets: values, passwords, the secret access key, Authorization', () => {
    const { lines, logger } = capture();
    logger.info('m', {
      SecretString: 'a',
      password: 'b',
      secretAccessKey: 'c',
      authorization: 'd',
      user: 'app',
    });
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'm', user: 'app' });
    expect(lines[0]).not.toMatch(/SecretString|password|secretAccessKey|authorization/);
  });

  it('replaces known secrets wherever they are, raw or JSON-escaped, and leaves other lines alone', () => {
    const { lines, logger } = capture();
    const log = redactingLogger(logger, ['s3cr3t-key-AAAA', 'tok"en-with-quote', 'short']);
    log.warn('key s3cr3t-key-AAAA in the message', { nested: [{ x: 'pre s3cr3t-key-AAAAs3cr3t-key-AAAA' }] });
    log.error('quoted', { v: 'tok"en-with-quote' });
    log.info('plain', { n: 1, short: 'short' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        message: 'key [redacted] in the message',
        nested: [{ x: 'pre [redacted][redacted]' }],
      }),
      expect.objectContaining({ message: 'quoted', v: '[redacted]' }),
      expect.objectContaining({ message: 'plain', n: 1, short: 'short' }),
    ]);
  });
});
