import { ValidationError } from '../../../src/errors';
import { parseDbSecret, parseMasterSecret, sslPreference } from '../../../src/secret';

const good = {
  engine: 'postgres',
  host: 'db.local',
  port: 5432,
  username: 'app',
  password: 'pw-123',
  dbname: 'shop',
};

describe('the database secret model', () => {
  it('accepts AWS JSON shape and keeps unknown keys for the pending copy', () => {
    const s = parseDbSecret(JSON.stringify({ ...good, extra: 'kept', masterarn: 'arn:x' }));
    expect(s).toMatchObject({ ...good, masterarn: 'arn:x', extra: 'kept' });
  });

  it('reads a port given as a string, as the console stores it', () => {
    expect(parseDbSecret(JSON.stringify({ ...good, port: '6543' })).port).toBe(6543);
  });

  it.each([
    ['not JSON', '{engine: postgres'],
    ['no host', JSON.stringify({ ...good, host: undefined })],
    ['unknown engine', JSON.stringify({ ...good, engine: 'oracle-ee' })],
    ['port out of range', JSON.stringify({ ...good, port: 70000 })],
    ['empty password', JSON.stringify({ ...good, password: '' })],
  ])('rejects %s with a ValidationError', (_what, text) => {
    expect(() => parseDbSecret(text)).toThrow(ValidationError);
  });

  it('never quotes the secret text in its error message', () => {
    const text = '{"engine":"postgres","password":"Sup3r-S3cret-Value"';
    try {
      parseDbSecret(text);
      throw new Error('expected a ValidationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).not.toContain('Sup3r-S3cret-Value');
    }
  });

  it('tells an RDS-managed master secret from a full one', () => {
    expect(parseMasterSecret('{"username":"admin","password":"p"}').kind).toBe('managed');
    expect(parseMasterSecret(JSON.stringify(good)).kind).toBe('full');
  });

  it('reads the ssl key as AWS templates do', () => {
    expect(sslPreference(undefined)).toBeUndefined();
    expect(sslPreference(true)).toBe(true);
    expect(sslPreference('FALSE')).toBe(false);
    expect(sslPreference('maybe')).toBeUndefined();
  });
});
