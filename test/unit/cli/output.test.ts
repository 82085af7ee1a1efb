import { describeFailure, EXIT } from '../../../cli/errors';
import { bar, table } from '../../../cli/output';

describe('CLI output and errors', () => {
  it('maps AWS and credflow errors to one line and a stable exit code', () => {
    const notFound = Object.assign(new Error('Secrets Manager can’t find the specified secret.'), {
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(describeFailure(notFound)).toEqual({
      line: 'Secrets Manager can’t find the specified secret. (ResourceNotFoundException)',
      exit: EXIT.notFound,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' });
    expect(describeFailure(refused).exit).toBe(EXIT.unreachable);
    expect(describeFailure(new TypeError('bug')).exit).toBe(EXIT.internal);
  });

  it('renders tables and bars', () => {
    expect(table(['a', 'bb'], [['xxx', 1]])).toBe('a    bb\n---  --\nxxx  1');
    expect(bar(5, 10, 10)).toBe('[#####.....] 5/10');
  });
});
