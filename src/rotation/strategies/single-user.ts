import { AuthenticationError } from '../../errors';
import type { DbSecret } from '../../secret';
import { credentialsOf } from '../master';
import { checkGrantsUnchanged } from './checks';
import type { RotationStrategy, SetContext, VerifyContext } from './types';

/**
 * single-user (seed 004, AWS's single-user template): the user changes its own password, logging
 * in with AWSCURRENT, else AWSPREVIOUS. No master is involved, so a secret can only ever change
 * the password of a user whose current password it already holds.
 */
export const singleUser: RotationStrategy = {
  name: 'single-user',
  needsMaster: false,
  ownedUsers: (bound) => [bound],
  pendingUsername: (current) => current.username,

  async setPassword(ctx: SetContext): Promise<string> {
    const candidates: DbSecret[] = [ctx.current];
    const previous = await ctx.previous();
    if (previous) candidates.push(previous);
    for (const c of candidates) {
      try {
        // One login: a refused one moves on to the next candidate.
        await ctx.engine.changeOwnPassword(credentialsOf(c), ctx.pending.password);
        return 'user changed its own password';
      } catch (err) {
        if (!(err instanceof AuthenticationError)) throw err;
      }
    }
    throw new AuthenticationError(
      `setSecret: unable to log in to the database with the previous, current or pending secret of ${ctx.secretArn}`,
    );
  },

  async verify(ctx: VerifyContext): Promise<void> {
    const previous = await ctx.previous();
    if (
      previous &&
      previous.username === ctx.current.username &&
      previous.password !== ctx.current.password
    ) {
      const stillWorks = await ctx.logsIn(credentialsOf(previous));
      ctx.add(
        'previous-rejected',
        !stillWorks,
        stillWorks ? 'the AWSPREVIOUS password still logs in' : 'the AWSPREVIOUS password is refused',
      );
    }
    if (ctx.recordedGrants) checkGrantsUnchanged(ctx, await ctx.inspect([ctx.bound]));
  },
};
