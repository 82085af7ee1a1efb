import { matchesFilters, searchWords } from '../../../../local/secretsmanager/filters';

const secret = {
  name: 'prod/OrdersDB/app-user',
  description: 'Credentials for Orders',
  tags: [
    { Key: 'team', Value: 'payments' },
    { Key: 'credflow:strategy', Value: 'alternating-users' },
  ],
  owningService: undefined,
  primaryRegion: 'us-east-1',
};

describe('ListSecrets filters', () => {
  it('splits search words as the console does', () => {
    expect(searchWords('credsDatabase#892')).toEqual(['creds', 'database', '892']);
    expect(searchWords('My_Secret')).toEqual(['my', 'secret']);
  });

  it.each([
    [[{ Key: 'name', Values: ['prod/'] }], true],
    [[{ Key: 'name', Values: ['Prod/'] }], false],
    [[{ Key: 'description', Values: ['credentials for'] }], true],
    [[{ Key: 'tag-key', Values: ['credflow:'] }], true],
    [[{ Key: 'tag-value', Values: ['alternating'] }], true],
    [[{ Key: 'tag-value', Values: ['Payments'] }], false],
    [[{ Key: 'owning-service', Values: ['rds'] }], false],
    [[{ Key: 'primary-region', Values: ['us-'] }], true],
    [[{ Key: 'all', Values: ['ORDERS'] }], true],
    [[{ Key: 'all', Values: ['ordersdb'] }], false],
    [[{ Key: 'all', Values: ['nomatch payments'] }], true],
    [[{ Key: 'name', Values: ['!prod/'] }], false],
    [[{ Key: 'name', Values: ['!dev/'] }], true],
    [[{ Key: 'name', Values: ['dev/', 'prod/'] }], true],
    [
      [
        { Key: 'name', Values: ['prod/'] },
        { Key: 'tag-key', Values: ['owner'] },
      ],
      false,
    ],
  ])('%j -> %s', (filters, expected) => {
    expect(matchesFilters(filters as never, secret)).toBe(expected);
  });
});
