import { AuthenticationError } from '../../errors';
import { credentialsOf } from '../master';
import { checkGrantsUnchanged } from './checks';
import type { RotationStrategy, SetContext, VerifyContext } from './types';

const CLONE_SUFFIX = '_clone';

/** The second user of an alternating pair (AWS's multi-user template). */
export function cloneOf(bound: string): string {
  return `${bound}${CLONE_SUFFIX}`;
}

/**
 * alternating-users (seeds 000/001, AWS's multi-user template): the master keeps `<user>_clone`
 * an exact equivalent of the user and AWSCURRENT alternates between the two, so the user that
 * applications hold keeps working until the next rotation.
 */
export const alternatingUsers: RotationStrategy = {
  name: 'alternating-users',
  needsMaster: true,
  ownedUsers: (bound) => [bound, cloneOf(bound)],
  pendingUsername: (current, bound) => (current.username === bound ? cloneOf(bound) : bound),

  async setPassword(ctx: SetContext): Promise<string> {
    return ctx.withMaster(async (master) => {
      try {
        await ctx.engine.testLogin(credentialsOf(ctx.current));
      } catch (err) {
        if (!(err instanceof AuthenticationError)) throw err;
        throw new AuthenticationError(
          `setSecret: AWSCURRENT of ${ctx.secretArn} does not log in; refusing to clone from it`,
        );
      }
      await ctx.engine.cloneUser(
        master.creds,
        ctx.current.username,
        ctx.pending.username,
        ctx.pending.password,
        ctx.secretArn,
        { connectionLimit: ctx.connectionLimit },
      );
      return 'master synced the alternate user and set its password';
    });
  },

  async verify(ctx: VerifyContext): Promise<void> {
    const other = alternatingUsers.pendingUsername(ctx.current, ctx.bound);
    const users = await ctx.inspect([ctx.current.username, other]);
    const a = users?.[ctx.current.username];
    const b = users?.[other];
    if (a && b) {
      const equal = a.join('\n') === b.join('\n');
      ctx.add(
        'clone-grants-equal',
        equal,
        equal
          ? `${ctx.current.username} and ${other} hold the same grants`
          : `${ctx.current.username} and ${other} hold different grants`,
      );
    }
    checkGrantsUnchanged(ctx, users);
  },
};
