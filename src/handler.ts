import { withCallStats } from './aws/call-stats';
import { type Deps, depsFromEnv, type ServiceName } from './deps';

/**
 * Every Lambda handler is this adapter: dependencies made once per container (`depsFromEnv` for
 * the handler group's service name, or a builder of the handler's own), the event parsed by the
 * core's own parser (a ValidationError naming each bad field), then the core, counting the AWS
 * calls it makes (`withCallStats`).
 */
export function taskHandler<I, R, D = Deps>(
  deps: ServiceName | (() => D),
  parse: (event: unknown) => I,
  run: (deps: D, input: I) => R | Promise<R>,
): (event: unknown) => Promise<R> {
  const make = typeof deps === 'string' ? () => depsFromEnv(deps) as D : deps;
  return async (event: unknown) => withCallStats(() => run(make(), parse(event)));
}
