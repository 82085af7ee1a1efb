import { CredflowError } from '../../errors';
import { cloneOf } from './alternating-users';
import { checkGrantsUnchanged } from './checks';
import type { RotationStrategy, SetContext, VerifyContext } from './types';

/**
 * admin-single-user (seed 003): the master sets the user's password; there is one user and no
 * clone, ever.
 */
export const adminSingleUser: RotationStrategy = {
  name: 'admin-single-user',
  needsMaster: true,
  ownedUsers: (bound) => [bound],
  pendingUsername: (_current, bound) => bound,

  async setPassword(ctx: SetContext): Promise<string> {
    return ctx.withMaster(async (master) => {
      await ctx.engine.setPassword(master.creds, ctx.pending.username, ctx.pending.password, ctx.secretArn);
      return 'master set the user password';
    });
  },

  async verify(ctx: VerifyContext): Promise<void> {
    const clone = cloneOf(ctx.bound);
    let cloneNameValid = true;
    try {
      ctx.engine.validateUsername(clone);
    } catch (err) {
      if (!(err instanceof CredflowError)) throw err;
      cloneNameValid = false; // too long for the engine: it cannot exist
    }
    const names = [...(ctx.recordedGrants ? [ctx.bound] : []), ...(cloneNameValid ? [clone] : [])];
    const users = names.length > 0 ? await ctx.inspect(names) : {};
    if (users) {
      const exists = cloneNameValid && users[clone] !== null && users[clone] !== undefined;
      ctx.add('no-clone', !exists, exists ? `${clone} exists` : `no ${clone}`);
    }
    checkGrantsUnchanged(ctx, users);
  },
};
