import { type Deps, depsFromEnv, type ServiceName } from './deps';

/**
 * Every Lambda handler is this adapter: dependencies from the container, the event parsed by the
 * core's own parser (a ValidationError naming each bad field), then the core.
 */
export function taskHandler<I, R>(
  service: ServiceName,
  parse: (event: unknown) => I,
  run: (deps: Deps, input: I) => R | Promise<R>,
): (event: unknown) => Promise<R> {
  return async (event: unknown) => run(depsFromEnv(service), parse(event));
}
